/**
 * The noun template ensemble is an explicit mining parameter: off by default (the NegLabel
 * reference), on request each noun is encoded as the ID labels are, the normalized mean of the
 * taxonomy's templates. The oracle is the public embedTexts of each templated text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, waitForJob, type TestApp } from '../helpers/app.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp({ NEGLABEL_JOB_POLL_MS: '50' });
});
after(() => app.close());

const TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.'];
const LABELS = ['cat', 'dog'];
const WORDS = ['car', 'house', 'tree', 'river', 'cloud', 'stone'];

const mean = (vectors: number[][]) => {
  const sum = vectors[0].map((_, d) => vectors.reduce((s, v) => s + v[d], 0));
  const norm = Math.hypot(...sum);
  return sum.map((v) => v / norm);
};
const dot = (a: number[], b: number[]) => a.reduce((s, v, d) => s + v * b[d], 0);

async function ensembleEmbeddings(words: string[]): Promise<number[][]> {
  const texts = words.flatMap((w) => TEMPLATES.map((t) => t.replace('{}', w)));
  const { data, errors } = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: texts });
  assert.equal(errors, undefined, JSON.stringify(errors));
  return words.map((_, i) => mean(data.embedTexts.slice(i * TEMPLATES.length, (i + 1) * TEMPLATES.length)));
}

test("nounPromptEnsemble encodes each noun with the taxonomy's templates, and says so in the parameters", async () => {
  const created = await app.graphql('mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }', {
    i: { name: 'ensemble', labels: LABELS, promptTemplates: TEMPLATES },
  });
  const taxonomyId = created.data.createTaxonomy.id;
  const corpus = WORDS.map((text) => ({ text, partOfSpeech: 'NOUN' }));
  const started = await app.graphql(
    'mutation($t: ID!, $c: [CorpusWordInput!]) { startMining(input: { taxonomyId: $t, corpus: $c, selectionRatio: ' +
      '1, groups: 1, percentile: 1, nounPromptEnsemble: true }) { id } }',
    { t: taxonomyId, c: corpus },
  );
  assert.equal(started.errors, undefined, JSON.stringify(started.errors));
  const job = await waitForJob(app, started.data.startMining.id);
  assert.equal(job.status, 'SUCCEEDED', job.error ?? '');
  const { data } = await app.graphql(
    'query($id: ID!) { negativeLabelSet(id: $id) { parameters { nounPrompt nounPromptTemplates } labels(first: ' +
      '100) { edges { node { word prompt maxSimilarity } } } } }',
    { id: job.negativeSet!.id },
  );
  assert.deepEqual(data.negativeLabelSet.parameters.nounPromptTemplates, TEMPLATES);
  const ids = await ensembleEmbeddings(LABELS);
  const words = data.negativeLabelSet.labels.edges.map((e: { node: { word: string } }) => e.node.word);
  const expected = await ensembleEmbeddings(words);
  for (const [i, { node }] of data.negativeLabelSet.labels.edges.entries()) {
    assert.equal(node.prompt, TEMPLATES[0].replace('{}', node.word));
    const best = Math.max(...ids.map((id) => dot(id, expected[i])));
    assert.ok(Math.abs(node.maxSimilarity - best) < 1e-4, `${node.word}: ${node.maxSimilarity} vs ${best}`);
  }
});

test('nounPromptEnsemble is refused without a template ensemble or beside a nounPrompt; off by default', async () => {
  const plain = (
    await app.graphql('mutation { createTaxonomy(input: { name: "plain", labels: ["cat", "dog"] }) { id } }')
  ).data.createTaxonomy.id;
  const refused = await app.graphql(
    'mutation($t: ID!) { startMining(input: { taxonomyId: $t, nounPromptEnsemble: true }) { id } }',
    {
      t: plain,
    },
  );
  assert.equal(refused.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  assert.match(refused.errors![0].message, /promptTemplates/);
  const both = await app.graphql('mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }', {
    i: { name: 'both', labels: LABELS, promptTemplates: TEMPLATES },
  });
  const clash = await app.graphql(
    'mutation($t: ID!) { startMining(input: { taxonomyId: $t, nounPromptEnsemble: true, nounPrompt: "a {}" }) { id } }',
    { t: both.data.createTaxonomy.id },
  );
  assert.equal(clash.errors?.[0].extensions.code, 'INVALID_PARAMETER');
});
