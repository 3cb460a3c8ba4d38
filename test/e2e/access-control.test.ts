import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.ts';
import { loadConfig } from '../../src/config.ts';
import { startApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURE_MODEL_DIR } from '../helpers/fixtures.ts';

let app: TestApp;
const keys: Record<string, string> = {};
const as = (role: string) => ({ authorization: `Bearer ${keys[role]}` });

before(async () => {
  app = await startTestApp();
  for (const role of ['SCORER', 'AUDITOR']) {
    const { data } = await app.graphql(
      'mutation($r: Role!, $n: String!) { createApiKey(input: { name: $n, role: $r }) { key apiKey { role ' +
        'keyPrefix } } }',
      { r: role, n: `${role.toLowerCase()}-key` },
    );
    keys[role] = data.createApiKey.key;
    assert.equal(data.createApiKey.apiKey.role, role);
  }
});
after(() => app.close());

test('requests without a valid key are refused; health stays public', async () => {
  const none = await app.graphql('{ taxonomies { totalCount } }', {}, { authorization: '' });
  assert.equal(none.errors?.[0].extensions.code, 'UNAUTHENTICATED');
  const bad = await app.graphql('{ taxonomies { totalCount } }', {}, { authorization: 'Bearer nope' });
  assert.equal(bad.errors?.[0].extensions.code, 'UNAUTHENTICATED');
  const health = await app.graphql('{ health { status } }', {}, { authorization: '' });
  assert.equal(health.data.health.status, 'ok');
});

test('each role can do what it may and nothing else', async () => {
  const cases: Array<[string, string, boolean]> = [
    ['SCORER', '{ embedTexts(texts: ["a"]) }', true],
    ['SCORER', '{ taxonomies { totalCount } }', true],
    ['SCORER', '{ scoringRecords { edges { cursor } } }', false],
    ['SCORER', 'mutation { createTaxonomy(input: { name: "s", labels: ["a"] }) { id } }', false],
    ['SCORER', '{ apiKeys { id } }', false],
    ['AUDITOR', '{ scoringRecords { edges { cursor } } }', true],
    ['AUDITOR', '{ scoringStats { total } }', true],
    ['AUDITOR', '{ auditLog { edges { cursor } } }', true],
    ['AUDITOR', '{ embedTexts(texts: ["a"]) }', false],
    ['AUDITOR', 'mutation { createApiKey(input: { name: "x", role: ADMIN }) { key } }', false],
  ];
  for (const [role, query, allowed] of cases) {
    const { errors } = await app.graphql(query, {}, as(role));
    if (allowed) assert.equal(errors, undefined, `${role} ${query}: ${JSON.stringify(errors)}`);
    else assert.equal(errors?.[0].extensions.code, 'FORBIDDEN', `${role} ${query}`);
  }
  const me = await app.graphql('{ me { name role openMode } }', {}, as('AUDITOR'));
  assert.deepEqual(me.data.me, { name: 'auditor-key', role: 'AUDITOR', openMode: false });
});

test(
  'admin actions are in the append-only audit log with the key that made them; revoked keys stop ' + 'working',
  async () => {
    const created = await app.graphql(
      'mutation { createTaxonomy(input: { name: "audited", labels: ["cat"] }) { id } }',
    );
    const log = await app.graphql(
      '{ auditLog(first: 10) { edges { node { actor action target details } } } }',
      {},
      as('AUDITOR'),
    );
    const entry = log.data.auditLog.edges.find((e: any) => e.node.action === 'createTaxonomy').node;
    assert.equal(entry.actor, 'bootstrap-admin');
    assert.equal(entry.target, created.data.createTaxonomy.id);
    assert.deepEqual(JSON.parse(entry.details), { name: 'audited', labels: { count: 1 } });
    assert.ok(log.data.auditLog.edges.some((e: any) => e.node.action === 'createApiKey'));
    await assert.rejects(app.database.pool.query('DELETE FROM audit_log'), /append-only/);

    const keyList = await app.graphql('{ apiKeys { id name revoked } }');
    const scorer = keyList.data.apiKeys.find((k: any) => k.name === 'scorer-key');
    await app.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id: scorer.id });
    const after = await app.graphql('{ embedTexts(texts: ["a"]) }', {}, as('SCORER'));
    assert.equal(after.errors?.[0].extensions.code, 'UNAUTHENTICATED');
  },
);

test('with no key, the service refuses to bind beyond loopback', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-open-'));
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '0',
    NEGLABEL_DATA_DIR: dir,
    NEGLABEL_MODEL_DIR: FIXTURE_MODEL_DIR,
    NEGLABEL_MODELS_DIR: path.join(dir, 'none'),
    NEGLABEL_ENCODER_WORKERS: '1',
  });
  try {
    await assert.rejects(startApp(config, createLogger('silent')), /not a loopback address and no API key exists/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no character of the bootstrap key is listed: its prefix names the variable it came from', async () => {
  const { data } = await app.graphql('{ apiKeys { name keyPrefix createdBy } }');
  const bootstrap = data.apiKeys.find((k: { createdBy: string | null }) => k.createdBy === 'NEGLABEL_ADMIN_KEY');
  assert.equal(bootstrap.keyPrefix, 'NEGLABEL_ADMIN_KEY');
  const listed = JSON.stringify(data);
  assert.ok(!listed.includes(ADMIN_KEY.slice(0, 6)), 'the listing holds none of the secret');
  // generated keys keep their public "nl_" start and a few characters, to be told apart
  const scorer = data.apiKeys.find((k: { name: string }) => k.name === 'scorer-key');
  assert.equal(scorer.keyPrefix, keys.SCORER.slice(0, 6));
});
