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

const images = [fixtureImage('images/rgb224.png'), fixtureImage('images/tiny8.png')].map((bytes) => ({
  data: base64(bytes),
}));
const SCORE =
  'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId score isOOD predictedLabel topNegatives { ' +
  'label } } }';
const total = async () => (await app.graphql('{ scoringStats { total } }')).data.scoringStats.total as number;

test('a retried request with the same idempotency key returns the first results and writes nothing', async () => {
  const before = await total();
  const first = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'order-42' } });
  assert.equal(first.errors, undefined, JSON.stringify(first.errors));
  const retry = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'order-42' } });
  assert.deepEqual(retry.data, first.data);
  assert.equal(await total(), before + 2);
  const other = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'order-43' } });
  assert.notDeepEqual(
    other.data.scoreImages.map((r: any) => r.recordId),
    first.data.scoreImages.map((r: any) => r.recordId),
  );
  assert.equal(await total(), before + 4);
  // without a key every request is new, as before
  await app.graphql(SCORE, { i: { taxonomyId, images } });
  assert.equal(await total(), before + 6);
});

test(
  'concurrent requests with one key write one set of records; keys are per caller; bad keys are ' + 'refused',
  async () => {
    const before = await total();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'burst' } })),
    );
    for (const r of results) assert.deepEqual(r.data, results[0].data, JSON.stringify(r.errors));
    assert.equal(await total(), before + 2);
    const scorer = (
      await app.graphql('mutation { createApiKey(input: { name: "second-caller", role: SCORER }) { key } }')
    ).data.createApiKey.key;
    const theirs = await app.graphql(
      SCORE,
      { i: { taxonomyId, images, idempotencyKey: 'burst' } },
      { authorization: `Bearer ${scorer}` },
    );
    assert.notDeepEqual(theirs.data.scoreImages[0].recordId, results[0].data.scoreImages[0].recordId);
    const bad = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: '' } });
    assert.equal(bad.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  },
);

test(
  "a caller's own threshold decides its answer and is recorded, but dashboards count the " + "taxonomy's decision",
  async () => {
    const stats = async () =>
      (
        await app.graphql('query($t: ID!) { scoringStats(filter: { taxonomyId: $t }) { total oodRate } }', {
          t: taxonomyId,
        })
      ).data.scoringStats;
    const before = await stats();
    // a threshold above every possible score: everything is OOD for this caller
    const strict = await app.graphql(
      'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId score isOOD threshold } }',
      { i: { taxonomyId, images, threshold: 1.5 } },
    );
    assert.equal(strict.errors, undefined, JSON.stringify(strict.errors));
    assert.ok(
      strict.data.scoreImages.every((r: { isOOD: boolean; threshold: number }) => r.isOOD && r.threshold === 1.5),
    );
    const ids = strict.data.scoreImages.map((r: { recordId: string }) => r.recordId);
    const records = await Promise.all(
      ids.map(
        async (id: string) =>
          (
            await app.graphql(
              'query($id: ID!) { scoringRecord(id: $id) { score threshold isOOD requestedThreshold ' +
                'requestedThresholdSpace requestedIsOOD } }',
              { id },
            )
          ).data.scoringRecord,
      ),
    );
    const taxonomyThreshold = (
      await app.graphql('query($t: ID!) { taxonomy(id: $t) { defaultThreshold } }', { t: taxonomyId })
    ).data.taxonomy.defaultThreshold;
    for (const r of records) {
      assert.deepEqual([r.requestedThreshold, r.requestedThresholdSpace, r.requestedIsOOD], [1.5, 'SCORE', true]);
      assert.equal(r.threshold, taxonomyThreshold);
      assert.equal(r.isOOD, r.score < taxonomyThreshold);
    }
    const after = await stats();
    const sharedOod = records.filter((r: { isOOD: boolean }) => r.isOOD).length;
    assert.equal(after.total, before.total + 2);
    assert.ok(
      Math.abs(after.oodRate * after.total - (before.oodRate * before.total + sharedOod)) < 1e-9,
      'the shared OOD count moved only by the taxonomy decisions',
    );
  },
);

test('an idempotency key belongs to the API key that used it, answers only its own request, and expires', async () => {
  const otherTaxonomy = await createMinedTaxonomy(app, 'retry-safe-other');
  // two tenants whose keys share a name: names are not identities
  const keyFor = async (t: string) =>
    (
      await app.graphql(
        'mutation($t: ID!) { createApiKey(input: { name: "tenant", role: SCORER, taxonomyIds: [$t] }) { key } }',
        { t },
      )
    ).data.createApiKey.key as string;
  const tenantA = { authorization: `Bearer ${await keyFor(taxonomyId)}` };
  const tenantB = { authorization: `Bearer ${await keyFor(otherTaxonomy)}` };
  const RECORD = 'query($id: ID!) { scoringRecord(id: $id) { taxonomyId } }';
  const a = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'shared-string' } }, tenantA);
  assert.equal(a.errors, undefined, JSON.stringify(a.errors));
  const b = await app.graphql(
    SCORE,
    { i: { taxonomyId: otherTaxonomy, images, idempotencyKey: 'shared-string' } },
    tenantB,
  );
  assert.equal(b.errors, undefined, JSON.stringify(b.errors));
  const bRecord = await app.graphql(RECORD, { id: b.data.scoreImages[0].recordId });
  assert.equal(bRecord.data.scoringRecord.taxonomyId, otherTaxonomy, "tenant B got its own records, not A's");

  // the same key for a different request is refused and writes nothing
  const before = await total();
  for (const changed of [
    { taxonomyId, images: images.slice(0, 1) },
    { taxonomyId, images, threshold: 0.9 },
    { taxonomyId, images, topK: 2 },
    { taxonomyId, images: [images[1], images[0]] },
  ]) {
    const reused = await app.graphql(SCORE, { i: { ...changed, idempotencyKey: 'shared-string' } }, tenantA);
    assert.equal(reused.errors?.[0].extensions.code, 'IDEMPOTENCY_KEY_REUSED', JSON.stringify(changed));
    assert.match(reused.errors![0].message, /use a new key/);
  }
  assert.equal(await total(), before);
  const retried = await app.graphql(SCORE, { i: { taxonomyId, images, idempotencyKey: 'shared-string' } }, tenantA);
  assert.deepEqual(retried.data, a.data);

  // past the window the key is free again: the same string starts a new request
  await app.database.pool.query(
    "UPDATE scoring_idempotency_keys SET created_at = now() - interval '25 hours' WHERE idempotency_key = $1",
    ['shared-string'],
  );
  const fresh = await app.graphql(
    SCORE,
    { i: { taxonomyId, images: images.slice(0, 1), idempotencyKey: 'shared-string' } },
    tenantA,
  );
  assert.equal(fresh.errors, undefined, JSON.stringify(fresh.errors));
  assert.notEqual(fresh.data.scoreImages[0].recordId, a.data.scoreImages[0].recordId);
  assert.equal(await total(), before + 1);
});
