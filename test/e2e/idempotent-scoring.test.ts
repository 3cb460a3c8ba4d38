import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
let taxonomyId: string;
before(async () => {
  app = await startTestApp({ NEGLABEL_JOB_POLL_MS: '50' });
  taxonomyId = await createMinedTaxonomy(app, 'retry-safe');
});
after(() => app.close());

const images = [fixtureImage('images/rgb224.png'), fixtureImage('images/tiny8.png')].map((bytes) => ({ data: base64(bytes) }));
const SCORE = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId score isOOD predictedLabel topNegatives { label } } }';
const total = async () => (await app.graphql('{ scoringStats { total } }')).data.scoringStats.total as number;

test('a retried request with the same idempotency key returns the first results and writes nothing', async () => {
  const before = await total();
  const first = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'order-42' } });
  assert.equal(first.errors, undefined, JSON.stringify(first.errors));
  const retry = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'order-42' } });
  assert.deepEqual(retry.data, first.data);
  assert.equal(await total(), before + 2);
  const other = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'order-43' } });
  assert.notDeepEqual(other.data.scoreImages.map((r: any) => r.recordId), first.data.scoreImages.map((r: any) => r.recordId));
  assert.equal(await total(), before + 4);
  // without a key every request is new, as before
  await app.graphql(SCORE, { i: { taxonomyId, images } });
  assert.equal(await total(), before + 6);
});

test('concurrent requests with one key write one set of records; keys are per caller; bad keys are refused', async () => {
  const before = await total();
  const results = await Promise.all(Array.from({ length: 4 }, () => app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'burst' } })));
  for (const r of results) assert.deepEqual(r.data, results[0].data, JSON.stringify(r.errors));
  assert.equal(await total(), before + 2);
  const scorer = (await app.graphql('mutation { createApiKey(input: { name: "second-caller", role: SCORER }) { key } }')).data.createApiKey.key;
  const theirs = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'burst' } }, { authorization: `Bearer ${scorer}` });
  assert.notDeepEqual(theirs.data.scoreImages[0].recordId, results[0].data.scoreImages[0].recordId);
  const bad = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: '' } });
  assert.equal(bad.errors?.[0].extensions.code, 'INVALID_PARAMETER');
});
