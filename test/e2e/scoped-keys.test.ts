import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
let mine: string;
let theirs: string;
const keys: Record<string, string> = {};
const as = (name: string) => ({ authorization: `Bearer ${keys[name]}` });
const code = (r: { errors?: Array<{ extensions: { code: string } }> }) => r.errors?.[0].extensions.code ?? 'ok';
const SCORE = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }';
const images = [{ data: base64(fixtureImage('images/tiny8.png')) }];

before(async () => {
  app = await startTestApp({ NEGLABEL_JOB_POLL_MS: '50' });
  mine = await createMinedTaxonomy(app, 'product-line-a');
  theirs = await createMinedTaxonomy(app, 'product-line-b', ['apple', 'pear']);
  const create = async (name: string, role: string, taxonomyIds?: string[]) => {
    const r = await app.graphql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { taxonomyIds } } }',
      { i: { name, role, taxonomyIds } },
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    keys[name] = r.data.createApiKey.key;
    return r.data.createApiKey.apiKey;
  };
  assert.deepEqual((await create('scorer-a', 'SCORER', [mine])).taxonomyIds, [mine]);
  await create('auditor-a', 'AUDITOR', [mine]);
  await create('scorer-all', 'SCORER');
});
after(() => app.close());

test('only scorer and auditor keys can be limited, and only to taxonomies that exist', async () => {
  const admin = await app.graphql(
    'mutation($t: ID!) { createApiKey(input: { name: "x", role: ADMIN, taxonomyIds: [$t] }) { key } }',
    { t: mine },
  );
  assert.equal(code(admin), 'INVALID_PARAMETER');
  const unknown = await app.graphql(
    'mutation { createApiKey(input: { name: "x", role: SCORER, taxonomyIds: ' +
      '["00000000-0000-0000-0000-000000000000"] }) { key } }',
  );
  assert.equal(code(unknown), 'NOT_FOUND');
});

test('a limited scorer sees and scores only its taxonomies; others look missing', async () => {
  const list = await app.graphql('{ taxonomies { totalCount edges { node { id } } } }', {}, as('scorer-a'));
  assert.deepEqual(list.data.taxonomies, { totalCount: 1, edges: [{ node: { id: mine } }] });
  assert.equal(
    (await app.graphql('query($id: ID!) { taxonomy(id: $id) { id } }', { id: theirs }, as('scorer-a'))).data.taxonomy,
    null,
  );
  assert.equal(code(await app.graphql(SCORE, { i: { taxonomyId: theirs, images } }, as('scorer-a'))), 'NOT_FOUND');
  assert.equal(code(await app.graphql(SCORE, { i: { taxonomyId: mine, images } }, as('scorer-a'))), 'ok');
  // an unlimited scorer is unaffected
  assert.equal(code(await app.graphql(SCORE, { i: { taxonomyId: theirs, images } }, as('scorer-all'))), 'ok');
  assert.equal(
    (await app.graphql('{ taxonomies { totalCount } }', {}, as('scorer-all'))).data.taxonomies.totalCount,
    2,
  );
});

test('a limited auditor reads only its taxonomies history, sets and records', async () => {
  const unfiltered = await app.graphql('{ scoringRecords { edges { node { id } } } }', {}, as('auditor-a'));
  assert.equal(code(unfiltered), 'FORBIDDEN');
  assert.equal(
    code(
      await app.graphql(
        'query($t: ID!) { scoringStats(filter: { taxonomyId: $t }) { total } }',
        { t: theirs },
        as('auditor-a'),
      ),
    ),
    'NOT_FOUND',
  );
  const own = await app.graphql(
    'query($t: ID!) { scoringRecords(filter: { taxonomyId: $t }) { edges { node { taxonomyId } } } }',
    { t: mine },
    as('auditor-a'),
  );
  assert.ok(own.data.scoringRecords.edges.length >= 1);
  assert.ok(own.data.scoringRecords.edges.every((e: { node: { taxonomyId: string } }) => e.node.taxonomyId === mine));

  const other = await app.graphql(
    'query($t: ID!) { scoringRecords(filter: { taxonomyId: $t }) { edges { node { id } } } taxonomy(id: $t) { ' +
      'latestVersion { activeNegativeSet { id } } } }',
    { t: theirs },
  );
  const recordId = other.data.scoringRecords.edges[0].node.id;
  const setId = other.data.taxonomy.latestVersion.activeNegativeSet.id;
  const probe = await app.graphql(
    'query($r: ID!, $s: ID!) { scoringRecord(id: $r) { id } negativeLabelSet(id: $s) { id } }',
    { r: recordId, s: setId },
    as('auditor-a'),
  );
  assert.deepEqual(probe.data, { scoringRecord: null, negativeLabelSet: null });
  const similar = await app.graphql('{ similarScoringRecords(text: "a cat") { similarity } }', {}, as('auditor-a'));
  assert.equal(code(similar), 'FORBIDDEN');
});

test("a limited auditor's audit log holds only the entries about its taxonomies", async () => {
  const LOG = '{ auditLog(first: 500) { edges { node { action target details } } } }';
  const all = (await app.graphql(LOG)).data.auditLog.edges.map((e: { node: { details: string } }) => e.node);
  assert.ok(
    all.some((e: { details: string }) => e.details.includes(theirs)),
    'the log mentions the other tenant',
  );
  assert.ok(all.some((e: { action: string }) => e.action === 'createApiKey'));
  const scoped = await app.graphql(LOG, {}, as('auditor-a'));
  assert.equal(scoped.errors, undefined, JSON.stringify(scoped.errors));
  const entries = scoped.data.auditLog.edges.map(
    (e: { node: { action: string; details: string; target: string } }) => e.node,
  );
  assert.ok(entries.length >= 2, 'its own taxonomy was created and mined');
  for (const entry of entries) {
    assert.ok(!JSON.stringify(entry).includes(theirs), JSON.stringify(entry));
    assert.ok(!JSON.stringify(entry).includes('product-line-b'), JSON.stringify(entry));
    assert.notEqual(entry.action, 'createApiKey', 'key management is not about one taxonomy');
  }
});
