/**
 * What a person sees when `npm start` cannot start: one line saying what is wrong and what to do,
 * and nothing created.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FIXTURE_MODEL_DIR } from '../helpers/fixtures.ts';
import { childEnv, randomPort, startServer, stopServer, waitReady } from '../helpers/server-process.ts';

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: childEnv({ NEGLABEL_MODEL_DIR: FIXTURE_MODEL_DIR, LOG_LEVEL: 'info', ...env }),
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

test('a port in use: one human line naming the port and the fix, before any database is created', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-port-'));
  const blocker = net.createServer();
  const port = randomPort();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    const { code, stderr } = await run({ PORT: String(port), NEGLABEL_DATA_DIR: path.join(dir, 'data') });
    assert.equal(code, 1);
    assert.equal(
      stderr.trim(),
      `neglabel could not start: port ${port} on 127.0.0.1 is already in use (another neglabel, or another ` +
        `program): stop it, or set PORT to a free port`,
    );
    assert.equal(existsSync(path.join(dir, 'data')), false, 'no data folder was created');
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data folder in use by another neglabel, and an invalid variable: one human line each', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-lock-'));
  const port = randomPort();
  const first = startServer(port, dir);
  try {
    await waitReady(port);
    const second = await run({ PORT: String(port + 1), NEGLABEL_DATA_DIR: dir });
    assert.equal(second.code, 1);
    assert.match(
      second.stderr.trim(),
      /^neglabel could not start: .* in use by another neglabel process \(pid \d+\): stop it, or set NEGLABEL_DATA_DIR/,
    );
    assert.equal(second.stderr.trim().split('\n').length, 1);
    const invalid = await run({ NEGLABEL_ROLE: 'everything' });
    assert.equal(invalid.code, 1);
    assert.equal(
      invalid.stderr.trim(),
      'neglabel could not start: NEGLABEL_ROLE=everything is invalid: use all, api, worker, db',
    );
  } finally {
    await stopServer(first);
    rmSync(dir, { recursive: true, force: true });
  }
});
