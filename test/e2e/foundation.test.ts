import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import { ADMIN_KEY, base64, startTestApp, type TestApp } from '../helpers/app.ts';
import { onPostgres } from '../helpers/backend.ts';
import { fixtureImage, l2normalize, maxAbsDiff, reference } from '../helpers/fixtures.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp();
});
after(() => app.close());

test('health reports the database, applied migrations and the loaded model', async () => {
  const { data } = await app.graphql(
    `{ health { status version defaultModel hint database { reachable embedded appliedMigrations pendingMigrations ` +
      `} models { id loaded embeddingDim imageSize contextLength } } }`,
  );
  assert.equal(data.health.status, 'ok');
  assert.equal(data.health.database.reachable, true);
  assert.equal(data.health.database.embedded, !onPostgres);
  assert.deepEqual(data.health.database.pendingMigrations, []);
  assert.equal(data.health.defaultModel, 'clip-tiny-random');
  assert.deepEqual(data.health.models[0], {
    id: 'clip-tiny-random',
    loaded: true,
    embeddingDim: 32,
    imageSize: 224,
    contextLength: 77,
  });
});

test('/healthz and /readyz answer over HTTP', async () => {
  assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
  const ready = await fetch(`${app.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).ready, true);
});

test('embedTexts and embedImages return normalized reference embeddings', async () => {
  const texts = reference.texts.slice(0, 5);
  const { data } = await app.graphql(`query($t: [String!]!) { embedTexts(texts: $t) }`, {
    t: texts.map((t) => t.text),
  });
  texts.forEach((t, i) => {
    assert.ok(maxAbsDiff(data.embedTexts[i], l2normalize(t.text_embeds)) < 1e-4);
  });
  const image = reference.images[0];
  const res = await app.graphql(`query($i: [ImageInput!]!) { embedImages(model: "clip-tiny-random", images: $i) }`, {
    i: [{ data: base64(fixtureImage(image.file)), filename: 'a.png' }],
  });
  assert.ok(maxAbsDiff(res.data.embedImages[0], l2normalize(image.image_embeds)) < 1e-4);
});

test('bad input gets stable error codes and the process keeps serving', async () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      'query($i: [ImageInput!]!) { embedImages(images: $i) }',
      { i: [{ data: base64(Buffer.from('plain text')) }] },
      'INVALID_IMAGE',
    ],
    ['query($i: [ImageInput!]!) { embedImages(images: $i) }', { i: [{ data: '***' }] }, 'INVALID_BASE64'],
    ['query($i: [ImageInput!]!) { embedImages(images: $i) }', { i: [] }, 'BAD_USER_INPUT'],
    [
      'query($i: [ImageInput!]!) { embedImages(images: $i) }',
      { i: [{ data: base64(fixtureImage('images/rgb224.jpg').subarray(0, 300)) }] },
      'INVALID_IMAGE',
    ],
    ['query($t: [String!]!) { embedTexts(texts: $t) }', { t: [] }, 'BAD_USER_INPUT'],
    ['query($t: [String!]!) { embedTexts(model: "nope", texts: $t) }', { t: ['x'] }, 'MODEL_NOT_FOUND'],
    ['{ nope }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  ];
  for (const [query, variables, code] of cases) {
    const { errors } = await app.graphql(query, variables);
    assert.equal(errors?.[0].extensions.code, code, `${query} ${JSON.stringify(variables).slice(0, 80)}`);
    assert.ok(errors![0].message.length > 10);
  }
  const long = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: ['word '.repeat(399)] });
  assert.equal(long.data.embedTexts[0].length, 32);
  const { data } = await app.graphql('{ health { status } }');
  assert.equal(data.health.status, 'ok');
});

test('health answers promptly while a large batch is being encoded', async () => {
  const texts = Array.from(
    { length: 4000 },
    (_, i) => `a long sentence number ${i} about things that are not in any cache ${i * 7}`,
  );
  const big = app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: texts });
  await new Promise((r) => setTimeout(r, 50));
  const latencies: number[] = [];
  let finished = false;
  void big.then(() => (finished = true));
  while (!finished && latencies.length < 20) {
    const started = performance.now();
    await app.graphql('{ health { status } }');
    latencies.push(performance.now() - started);
  }
  const result = await big;
  assert.equal(result.data.embedTexts.length, 4000);
  assert.ok(latencies.length >= 2, 'the batch finished before health could be asked twice: make it larger');
  const worst = Math.max(...latencies);
  assert.ok(worst < 1000, `health took ${worst.toFixed(0)} ms during encoding`);
});

test('without a model the server starts and says how to install one', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-nomodel-'));
  const bare = await startTestApp({ NEGLABEL_MODEL_DIR: '', NEGLABEL_MODELS_DIR: path.join(dir, 'empty') });
  try {
    const { data } = await bare.graphql('{ health { status hint defaultModel } models { id } }');
    assert.equal(data.health.status, 'degraded');
    assert.match(data.health.hint, /no model is installed/);
    assert.deepEqual(data.models, []);
    const { errors } = await bare.graphql('{ embedTexts(texts: ["x"]) }');
    assert.equal(errors?.[0].extensions.code, 'NO_MODEL');
    assert.match(errors![0].message, /models\//);
    assert.equal((await fetch(`${bare.url}/readyz`)).status, 503);
  } finally {
    await bare.close();
  }
});

test(
  '/metrics exposes operation counts, encoder batches and the database pool; responses carry a ' + 'request id',
  async () => {
    await app.graphql('{ health { status } }');
    await app.graphql('{ embedTexts(texts: ["metrics probe"]) }');
    assert.equal((await fetch(`${app.url}/metrics`)).status, 401, 'operators only');
    // label values from fixed sets: user errors keep their code; odd operations cannot mint labels
    await app.graphql('query($id: ID!) { taxonomy(id: $id) { id } miningJob(id: $id) { id } }', { id: 'x' });
    for (let i = 0; i < 5; i++) await app.graphql(`{ field${i}xyz: health { status } }`);
    await app.graphql('{ noSuchField }');
    const bad = await app.graphql(
      'mutation { startMining(input: { taxonomyId: "00000000-0000-0000-0000-000000000000" }) { id } }',
    );
    assert.equal(bad.errors?.[0].extensions.code, 'NOT_FOUND');
    const response = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /neglabel_graphql_operations_total\{operation="health",outcome="ok",code="none"\} \d+/);
    assert.match(
      text,
      /neglabel_graphql_operations_total\{operation="startMining",outcome="error",code="NOT_FOUND"\} 1/,
    );
    assert.match(text, /operation="multiple"/);
    assert.match(text, /operation="invalid"/);
    assert.doesNotMatch(text, /field\dxyz|noSuchField|INTERNAL_SERVER_ERROR/);
    assert.doesNotMatch(text, /neglabel_encoder_cache_hits\{modality="image"/);
    assert.match(text, /neglabel_graphql_operation_seconds_bucket\{le="0\.1",operation="embedTexts"\} \d+/);
    assert.match(text, /neglabel_encoder_runs\{modality="text"\} [1-9]\d*/);
    assert.match(text, /neglabel_db_pool_connections\{state="total"\} \d+/);
    const traced = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-42' },
      body: JSON.stringify({ query: '{ health { status } }' }),
    });
    assert.equal(traced.headers.get('x-request-id'), 'trace-me-42');
  },
);

test('the standard introspection query (GraphiQL, code generators) is answered within the query limits', async () => {
  const result = await app.graphql(getIntrospectionQuery());
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  assert.ok(result.data.__schema.types.some((t: { name: string }) => t.name === 'ImageScore'));
});

test('the public models field names a broken folder without disclosing its absolute path', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-models-'));
  mkdirSync(path.join(dir, 'models', 'half'), { recursive: true });
  writeFileSync(path.join(dir, 'models', 'half', 'text_model.onnx'), 'not a model');
  const withBroken = await startTestApp({
    NEGLABEL_MODELS_DIR: path.join(dir, 'models'),
    NEGLABEL_ENCODER_WORKERS: '1',
  });
  try {
    const { data } = await withBroken.graphql('{ models { id loaded error } }', {}, { authorization: '' });
    const half = data.models.find((m: { id: string }) => m.id === 'half');
    assert.equal(half.loaded, false);
    assert.match(half.error, /model folder half lacks/);
    assert.ok(!half.error.includes(dir), half.error);
  } finally {
    await withBroken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the console and the IDE link an icon the service serves, and /favicon.ico is that icon', async () => {
  for (const page of ['/', '/graphql']) {
    const html = await (await fetch(`${app.url}${page}`, { headers: { accept: 'text/html' } })).text();
    assert.match(html, /<link rel="icon" href="\/assets\/favicon\.svg" type="image\/svg\+xml">/, page);
  }
  for (const route of ['/assets/favicon.svg', '/favicon.ico']) {
    const response = await fetch(`${app.url}${route}`);
    assert.equal(response.status, 200, route);
    assert.match(response.headers.get('content-type') ?? '', /^image\/svg\+xml/, route);
    assert.match(await response.text(), /^<svg /, route);
  }
});
