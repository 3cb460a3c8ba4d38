/** One convention for ids that do not exist: lookups answer null, mutations fail with NOT_FOUND. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { base64, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp();
});
after(() => app.close());

test('taxonomy, negativeLabelSet, miningJob and scoringRecord answer null for an unknown or malformed id', async () => {
  for (const id of [randomUUID(), 'not-an-id', '------------------------------------']) {
    const { data, errors } = await app.graphql(
      'query($id: ID!) { taxonomy(id: $id) { id } negativeLabelSet(id: $id) { id } miningJob(id: $id) { id } ' +
        'scoringRecord(id: $id) { id } }',
      { id },
    );
    assert.equal(errors, undefined, JSON.stringify(errors));
    assert.deepEqual(data, { taxonomy: null, negativeLabelSet: null, miningJob: null, scoringRecord: null });
  }
});

test('mutations given an unknown id fail with NOT_FOUND and change nothing', async () => {
  const id = randomUUID();
  const codes = [
    await app.graphql('mutation($id: ID!) { cancelMiningJob(id: $id) { id } }', { id }),
    await app.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id }),
    await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
      i: { taxonomyId: id, images: [{ data: base64(fixtureImage('images/tiny8.png')) }] },
    }),
    await app.graphql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', { i: { taxonomyId: id } }),
  ].map((r) => r.errors?.[0].extensions.code);
  assert.deepEqual(codes, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
  assert.equal((await app.graphql('{ scoringStats { total } }')).data.scoringStats.total, 0);
});
