import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTestApp } from '../helpers/app.ts';
import { dropServiceDatabase, serviceDatabaseEnv, wedgeDatabase } from '../helpers/backend.ts';
import { randomPort, startServer, stopServer, waitReady } from '../helpers/server-process.ts';

test('/readyz answers 503 within its bound while the database is wedged, and 200 again after', async () => {
  const app = await startTestApp();
  try {
    const release = await wedgeDatabase(app.database.pool);
    const started = Date.now();
    const wedged = await fetch(`${app.url}/readyz`);
    const elapsed = Date.now() - started;
    assert.equal(wedged.status, 503);
    assert.ok(elapsed < 5000, `answered after ${elapsed} ms`);
    assert.match((await wedged.json()).hint, /unreachable/);
    await release();
    assert.equal((await fetch(`${app.url}/readyz`)).status, 200);
  } finally {
    await app.close();
  }
});

test('health checks do not wait for a database that answered a moment ago, and still report it wedged', async () => {
  const app = await startTestApp();
  const readyz = async () => {
    const started = Date.now();
    const response = await fetch(`${app.url}/readyz`);
    return { status: response.status, body: await response.json(), ms: Date.now() - started };
  };
  try {
    assert.equal((await readyz()).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the next check starts a new probe
    const release = await wedgeDatabase(app.database.pool); // the new probe waits
    try {
      const wedged = Date.now();
      const first = await readyz();
      assert.equal(first.status, 200, 'the probe of a second ago answers while the new one runs');
      assert.ok(first.ms < 500, `answered after ${first.ms} ms`);
      let last = first;
      while (last.status === 200 && Date.now() - wedged < 6000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        last = await readyz();
      }
      assert.equal(last.status, 503, 'reported once the running probe times out');
      assert.match(last.body.hint, /unreachable/);
      assert.ok(Date.now() - wedged < 4000, `reported after ${Date.now() - wedged} ms`);
    } finally {
      await release();
    }
    assert.equal((await readyz()).status, 200, 'a recovery shows at the next probe');
  } finally {
    await app.close();
  }
});

test('SIGTERM exits by the shutdown deadline even when a client never finishes its request', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-deadline-'));
  const port = randomPort();
  const server = startServer(port, dataDir, {
    ...(await serviceDatabaseEnv(dataDir)),
    NEGLABEL_SHUTDOWN_TIMEOUT_MS: '1500',
  });
  try {
    await waitReady(port);
    // a request whose body never arrives keeps a connection busy past Apollo's 10 s drain
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ' +
        '1000\r\n\r\n{"query":',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const started = Date.now();
    server.kill('SIGTERM');
    const code = await exited;
    const elapsed = Date.now() - started;
    socket.destroy();
    assert.ok(elapsed < 6000, `exited after ${elapsed} ms`);
    assert.equal(code, 1, 'a shutdown cut short by the deadline exits non-zero');
  } finally {
    await stopServer(server);
    await dropServiceDatabase(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
