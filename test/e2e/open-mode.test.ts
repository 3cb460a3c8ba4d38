import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { isLoopbackAddress, startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { FIXTURE_MODEL_DIR } from '../helpers/fixtures.ts';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const anonymous = { authorization: '' };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function withDataDir(fn: (dir: string) => Promise<void>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-open-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  'open mode fails closed: first key must be admin, the last admin cannot be revoked, no ' + 'reopening after restart',
  async () => {
    await withDataDir(async (dir) => {
      let app: TestApp = await startTestApp({ NEGLABEL_ADMIN_KEY: '', NEGLABEL_DATA_DIR: dir });
      try {
        assert.equal((await app.graphql('{ me { openMode role } }', {}, anonymous)).data.me.openMode, true);
        const scorerFirst = await app.graphql(
          'mutation { createApiKey(input: { name: "svc", role: SCORER }) { key } }',
          {},
          anonymous,
        );
        assert.equal(scorerFirst.errors?.[0].extensions.code, 'FIRST_KEY_MUST_BE_ADMIN');
        assert.equal(
          (await app.graphql('{ me { openMode } }', {}, anonymous)).data.me.openMode,
          true,
          'a refused request changes nothing',
        );

        const first = (
          await app.graphql(
            'mutation { createApiKey(input: { name: "ops", role: ADMIN }) { key apiKey { id } } }',
            {},
            anonymous,
          )
        ).data.createApiKey;
        assert.equal(
          (await app.graphql('{ taxonomies { totalCount } }', {}, anonymous)).errors?.[0].extensions.code,
          'UNAUTHENTICATED',
        );
        const last = await app.graphql(
          'mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }',
          { id: first.apiKey.id },
          bearer(first.key),
        );
        assert.equal(last.errors?.[0].extensions.code, 'LAST_ADMIN_KEY');

        const second = (
          await app.graphql(
            'mutation { createApiKey(input: { name: "ops2", role: ADMIN }) { key apiKey { id } } }',
            {},
            bearer(first.key),
          )
        ).data.createApiKey;
        // two admins revoking each other at the same instant: exactly one of them wins
        const revoke = (id: string, key: string) =>
          app.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id }, bearer(key));
        const both = await Promise.all([revoke(first.apiKey.id, second.key), revoke(second.apiKey.id, first.key)]);
        const outcomes = both.map((r) => r.errors?.[0].extensions.code ?? 'revoked').sort();
        // the loser is refused either as the last admin, or because its own key was revoked before
        // its request was authenticated (the requests run concurrently)
        assert.equal(outcomes[1], 'revoked', JSON.stringify(outcomes));
        assert.ok(['LAST_ADMIN_KEY', 'UNAUTHENTICATED'].includes(outcomes[0]), JSON.stringify(outcomes));
        const survivor = both[0].errors ? first : second;
        if (survivor === first) {
          // keep the rest of the test's story: `second` is the admin that remains
          const third = (
            await app.graphql(
              'mutation { createApiKey(input: { name: "ops2", role: ADMIN }) { key apiKey { id } } }',
              {},
              bearer(first.key),
            )
          ).data.createApiKey;
          assert.equal((await revoke(first.apiKey.id, third.key)).data.revokeApiKey.revoked, true);
          Object.assign(second, third);
        }
        assert.equal(
          (await app.graphql('{ me { openMode } }', {}, anonymous)).errors?.[0].extensions.code,
          'UNAUTHENTICATED',
        );
        await app.close();

        app = await startTestApp({ NEGLABEL_ADMIN_KEY: '', NEGLABEL_DATA_DIR: dir });
        assert.equal(
          (await app.graphql('{ taxonomies { totalCount } }', {}, anonymous)).errors?.[0].extensions.code,
          'UNAUTHENTICATED',
          'still closed after a restart',
        );
        assert.equal((await app.graphql('{ me { name } }', {}, bearer(second.key))).data.me.name, 'ops2');
      } finally {
        await app.close();
      }
    });
  },
);

test('a revoked bootstrap key stops the start with a clear message, not a database error', async () => {
  await withDataDir(async (dir) => {
    const bootstrap = 'bootstrap-key-0123456789';
    const app = await startTestApp({ NEGLABEL_ADMIN_KEY: bootstrap, NEGLABEL_DATA_DIR: dir });
    try {
      const other = (
        await app.graphql(
          'mutation { createApiKey(input: { name: "ops", role: ADMIN }) { key } }',
          {},
          bearer(bootstrap),
        )
      ).data.createApiKey.key;
      const keys = (await app.graphql('{ apiKeys { id name } }', {}, bearer(other))).data.apiKeys;
      const id = keys.find((k: { name: string }) => k.name === 'bootstrap-admin').id;
      assert.equal(
        (await app.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id }, bearer(other))).data
          .revokeApiKey.revoked,
        true,
      );
    } finally {
      await app.close();
    }
    await assert.rejects(
      startTestApp({ NEGLABEL_ADMIN_KEY: bootstrap, NEGLABEL_DATA_DIR: dir }),
      /NEGLABEL_ADMIN_KEY was revoked on .* Set NEGLABEL_ADMIN_KEY to a new secret/,
    );
  });
});

test('open mode serves only loopback Host names (DNS rebinding)', async () => {
  await withDataDir(async (dir) => {
    const app = await startTestApp({ NEGLABEL_ADMIN_KEY: '', NEGLABEL_DATA_DIR: dir });
    try {
      const port = new URL(app.url).port;
      // fetch drops a Host header; node:http sends what a rebinding browser would
      const ask = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const request = http.request(
            {
              host: '127.0.0.1',
              port,
              path: '/graphql',
              method: 'POST',
              headers: { host, 'content-type': 'application/json' },
            },
            (response) => {
              let body = '';
              response.on('data', (chunk) => (body += chunk));
              response.on('end', () => resolve({ status: response.statusCode!, body }));
            },
          );
          request.on('error', reject);
          request.end(JSON.stringify({ query: '{ me { openMode } }' }));
        });
      const rebound = await ask(`attacker.example:${port}`);
      assert.equal(rebound.status, 403);
      assert.equal(JSON.parse(rebound.body).errors[0].extensions.code, 'FORBIDDEN_HOST');
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) assert.equal((await ask(host)).status, 200, host);
      // WebSockets (subscriptions) skip the same-origin rule: a foreign page or name gets no socket
      const upgrade = (headers: Record<string, string>) =>
        new Promise<number>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { headers });
          socket.on('open', () => {
            socket.close();
            resolve(101);
          });
          socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
          socket.on('error', () => {});
        });
      assert.equal(await upgrade({ host: `attacker.example:${port}` }), 401);
      assert.equal(await upgrade({ origin: 'http://attacker.example' }), 401);
      assert.equal(await upgrade({ origin: `http://127.0.0.1:${port}` }), 101, 'the console itself');
    } finally {
      await app.close();
    }
  });
});

test('loopback is an address, not a name that starts like one', async () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
    assert.equal(isLoopbackAddress(address), true, address);
  for (const address of ['127.0.0.1.attacker.example', '0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'localhost'])
    assert.equal(isLoopbackAddress(address), false, address);
  await withDataDir(async (dir) => {
    const config = loadConfig({
      HOST: '127.0.0.1.attacker.example',
      PORT: '0',
      NEGLABEL_DATA_DIR: dir,
      NEGLABEL_MODEL_DIR: FIXTURE_MODEL_DIR,
      NEGLABEL_MODELS_DIR: path.join(dir, 'none'),
      NEGLABEL_ENCODER_WORKERS: '1',
    });
    await assert.rejects(startApp(config, createLogger('silent')), /not a loopback address and no API key exists/);
  });
});
