/**
 * The records export over real HTTP: JSON Lines and CSV of a filter, newest first, resumable by
 * cursor, with the fields an auditor reads, the keys and scopes of the scoringRecords query, and
 * CSV cells a spreadsheet cannot run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
let pets: string;
let birds: string;
const ids: string[] = [];

const keyOf = async (input: string) =>
  (await app.graphql(`mutation { createApiKey(input: ${input}) { key } }`)).data.createApiKey.key as string;

async function score(taxonomyId: string, files: string[], key = ADMIN_KEY): Promise<string[]> {
  const result = await app.graphql(
    'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }',
    { i: { taxonomyId, images: files.map((f) => ({ data: base64(fixtureImage(f)), filename: f })) } },
    { authorization: `Bearer ${key}` },
  );
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data.scoreImages.map((r: { recordId: string }) => r.recordId);
}

const get = (path: string, key = ADMIN_KEY) =>
  fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
const jsonLines = async (response: Response) =>
  (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

before(async () => {
  app = await startTestApp();
  pets = await createMinedTaxonomy(app, 'pets');
  birds = await createMinedTaxonomy(app, 'birds', ['sparrow', 'owl']);
  ids.push(...(await score(pets, ['images/rgb224.png', 'images/tiny8.png'])));
  const tricky = await keyOf('{ name: "=HYPERLINK(\\"x\\"),2", role: SCORER }');
  ids.push(...(await score(pets, ['images/gray256.png'], tricky)));
  ids.push(...(await score(birds, ['images/rgb224b.png'])));
});
after(() => app.close());

test('JSON Lines of a filter, newest first, each with the auditor fields and a cursor that resumes', async () => {
  const all = await jsonLines(await get('/v1/history/records'));
  assert.deepEqual(
    all.map((r) => r.id),
    [...ids].reverse(),
  );
  const first = all.at(-1);
  for (const field of ['createdAt', 'caller', 'taxonomyVersion', 'negativeSetId', 'model', 'imageHash', 'score'])
    assert.ok(first[field] !== undefined && first[field] !== null, field);
  assert.match(first.decision, /^(ID|OOD)$/);
  assert.ok(Array.isArray(first.topNegatives) && first.topNegatives.length > 0);
  const petsOnly = await jsonLines(await get(`/v1/history/records?taxonomyId=${pets}`));
  assert.deepEqual(
    petsOnly.map((r) => r.id),
    ids.slice(0, 3).reverse(),
  );
  const resumed = await jsonLines(await get(`/v1/history/records?after=${all[1].cursor}`));
  assert.deepEqual(
    resumed.map((r) => r.id),
    all.slice(2).map((r) => r.id),
    'the records after the cursor, as the next GraphQL page would have them',
  );
  const graphql = await app.graphql(
    'query($a: String) { scoringRecords(first: 2, after: $a) { edges { node { id } } } }',
    {
      a: all[1].cursor,
    },
  );
  assert.deepEqual(
    graphql.data.scoringRecords.edges.map((e: { node: { id: string } }) => e.node.id),
    all.slice(2, 4).map((r) => r.id),
  );
});

test('CSV with a header, RFC 4180 quoting, and no cell a spreadsheet would run', async () => {
  const response = await get(`/v1/history/records.csv?taxonomyId=${pets}`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/csv/);
  const lines = (await response.text()).trimEnd().split('\r\n');
  assert.equal(lines.length, 4, 'a header and three records');
  const header = lines[0].split(',');
  assert.deepEqual(header.slice(0, 4), ['cursor', 'id', 'createdAt', 'caller']);
  assert.ok(header.includes('decision') && header.includes('topNegatives'));
  // the newest record was scored by the key named =HYPERLINK("x"),2
  assert.ok(lines[1].includes(`,"'=HYPERLINK(""x""),2",`), lines[1]);
});

test('the scoringRecords keys and scopes hold, and bad parameters are refused with a code', async () => {
  const status = async (path: string, key?: string) => {
    const response = await get(path, key);
    const body = response.status === 200 ? null : ((await response.json()) as { error: { code: string } });
    return [response.status, body?.error.code ?? null];
  };
  const scorer = await keyOf('{ name: "export scorer", role: SCORER }');
  const scoped = await keyOf(`{ name: "pets auditor", role: AUDITOR, taxonomyIds: ["${pets}"] }`);
  assert.deepEqual(await status('/v1/history/records', scorer), [403, 'FORBIDDEN']);
  assert.deepEqual(await status('/v1/history/records', scoped), [403, 'FORBIDDEN'], 'a scoped key names its taxonomy');
  assert.deepEqual(await status(`/v1/history/records?taxonomyId=${birds}`, scoped), [404, 'NOT_FOUND']);
  const own = await jsonLines(await get(`/v1/history/records?taxonomyId=${pets}`, scoped));
  assert.equal(own.length, 3);
  assert.deepEqual(await status('/v1/history/records?decision=MAYBE'), [400, 'BAD_USER_INPUT']);
  assert.deepEqual(await status('/v1/history/records?from=yesterday'), [400, 'BAD_USER_INPUT']);
  assert.deepEqual(await status('/v1/history/records?after=not-a-cursor'), [400, 'INVALID_CURSOR']);
  assert.deepEqual(await status('/v1/history/records', 'nl_not_a_key_at_all_0000'), [401, 'UNAUTHENTICATED']);
});
