/**
 * CSP mining through GraphQL on the fixture model. The oracle embeds every prompt with its own
 * onnxruntime session (raw projections, no service code but the tokenizer) and forms CSP's means
 * of raw embeddings itself.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { ClipTokenizer } from '../../src/inference/tokenizer.ts';
import { startTestApp, waitForJob, type TestApp } from '../helpers/app.ts';
import { FIXTURE_MODEL_DIR } from '../helpers/fixtures.ts';

// written out from ../shared/docs/beyond-neglabel.md, not imported from src/: they are the oracle's
const LABEL_TEMPLATES = [
  'a close-up photo of the nice {}.',
  'a photo with the nice {}.',
  'a good photo with the nice {}.',
  'a photo of the nice {}.',
  '{}',
  'the {}',
  'the good {}',
  'the nice {}',
];
const PHRASE_TEMPLATES = ['{}', 'a nice photo of {}', 'a good photo of {}', 'a close-up photo of {}'];
const SUPERCLASSES =
  'environment space object scene place item area view thing pattern structure landscape vista creature'.split(' ');
const LABELS = ['cat', 'dog', 'hamster'];
const NOUNS = ['car', 'house', 'tree', 'river', 'cloud', 'stone', 'cat'];
const ADJECTIVES = ['red', 'quiet', 'tall', 'wet', 'slow', 'bright'];

let app: TestApp;
let session: ort.InferenceSession;
let tokenizer: ClipTokenizer;
before(async () => {
  app = await startTestApp({ NEGLABEL_JOB_POLL_MS: '50' });
  session = await ort.InferenceSession.create(path.join(FIXTURE_MODEL_DIR, 'text_model.onnx'));
  tokenizer = ClipTokenizer.fromTokenizerJson(readFileSync(path.join(FIXTURE_MODEL_DIR, 'tokenizer.json'), 'utf8'));
});
after(() => app.close());

/** The raw text projection of one text, padded to 77 as CLIP does. */
async function rawEmbedding(text: string): Promise<number[]> {
  const ids = tokenizer.encode(text);
  const padded = new BigInt64Array(77).fill(BigInt(tokenizer.endToken));
  const mask = new BigInt64Array(77);
  ids.forEach((id, i) => {
    padded[i] = BigInt(id);
    mask[i] = 1n;
  });
  const out = await session.run({
    input_ids: new ort.Tensor('int64', padded, [1, 77]),
    attention_mask: new ort.Tensor('int64', mask, [1, 77]),
  });
  return Array.from(out.text_embeds.data as Float32Array);
}

async function rawMean(texts: string[]): Promise<number[]> {
  const raws = await Promise.all(texts.map(rawEmbedding));
  const sum = raws[0].map((_, d) => raws.reduce((s, r) => s + r[d], 0));
  const norm = Math.hypot(...sum);
  return sum.map((v) => v / norm);
}
const dot = (a: number[], b: number[]) => a.reduce((s, v, d) => s + v * b[d], 0);
const fill = (templates: string[], text: string) => templates.map((t) => t.replace('{}', text));

const corpus = [
  ...NOUNS.map((text) => ({ text, partOfSpeech: 'NOUN' })),
  ...ADJECTIVES.map((text) => ({ text, partOfSpeech: 'ADJECTIVE' })),
];

async function mine(taxonomyId: string, extra: Record<string, unknown>) {
  const started = await app.graphql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
    i: { taxonomyId, corpus, selectionRatio: 1, groups: 1, percentile: 1, ...extra },
  });
  assert.equal(started.errors, undefined, JSON.stringify(started.errors));
  const job = await waitForJob(app, started.data.startMining.id);
  assert.equal(job.status, 'SUCCEEDED', job.error ?? '');
  return job.negativeSet!.id;
}

interface LabelNode {
  word: string;
  prompt: string;
  partOfSpeech: string;
  maxSimilarity: number;
}

async function labelsOf(setId: string): Promise<{ excludedCount: number; parameters: any; nodes: LabelNode[] }> {
  const { data, errors } = await app.graphql(
    'query($id: ID!) { negativeLabelSet(id: $id) { excludedCount parameters { method nounPromptTemplates ' +
      'adjectivePromptTemplates } labels(first: 100) { edges { node { word prompt partOfSpeech maxSimilarity } } } } }',
    { id: setId },
  );
  assert.equal(errors, undefined, JSON.stringify(errors));
  const set = data.negativeLabelSet;
  return { ...set, nodes: set.labels.edges.map((e: { node: LabelNode }) => e.node) as LabelNode[] };
}

test('CSP mines phrases and nouns with raw-mean template ensembles, excludes near duplicates, and scores', async () => {
  const created = await app.graphql('mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }', {
    i: { name: 'csp', labels: LABELS },
  });
  const taxonomyId = created.data.createTaxonomy.id;
  // a near-duplicate threshold of 0.9999 keeps all but "cat" (an ID label): every phrase is visible
  const setId = await mine(taxonomyId, { method: 'CSP', seed: 3, nearDuplicateThreshold: 0.9999 });
  const set = await labelsOf(setId);
  assert.equal(set.parameters.method, 'CSP');
  assert.deepEqual(set.parameters.nounPromptTemplates, LABEL_TEMPLATES);
  assert.deepEqual(set.parameters.adjectivePromptTemplates, PHRASE_TEMPLATES);
  const ids = await Promise.all(LABELS.map((l) => rawMean(fill(LABEL_TEMPLATES, l))));
  assert.equal(set.excludedCount, 1);
  assert.equal(set.nodes.length, NOUNS.length - 1 + ADJECTIVES.length);
  const oracleMax = new Map<string, number>();
  for (const node of set.nodes) {
    let expected: number[];
    if (node.partOfSpeech === 'ADJECTIVE') {
      const [adjective, superclass] = node.word.split(' ');
      assert.ok(ADJECTIVES.includes(adjective), node.word);
      assert.ok(SUPERCLASSES.includes(superclass), node.word);
      assert.equal(node.prompt, node.word);
      expected = await rawMean(fill(PHRASE_TEMPLATES, node.word));
    } else {
      assert.equal(node.prompt, LABEL_TEMPLATES[0].replace('{}', node.word));
      expected = await rawMean(fill(LABEL_TEMPLATES, node.word));
    }
    const best = Math.max(...ids.map((id) => dot(id, expected)));
    oracleMax.set(node.word, best);
    assert.ok(Math.abs(node.maxSimilarity - best) < 1e-4, `${node.word}: ${node.maxSimilarity} vs ${best}`);
  }
  // at CSP's 0.95 exactly the candidates whose oracle max cosine is above it are left out
  const strict = await labelsOf(await mine(taxonomyId, { method: 'CSP', seed: 3 }));
  const expectedKept = [...oracleMax].filter(([, max]) => max <= 0.95).map(([word]) => word);
  assert.ok(expectedKept.length < oracleMax.size, 'the fixture model has near duplicates above 0.95');
  assert.deepEqual(strict.nodes.map((n) => n.word).sort(), expectedKept.sort());
  assert.equal(strict.excludedCount, 1 + oracleMax.size - expectedKept.length);

  // the set scores with its own ID ensemble: the top ID label's similarity is the oracle's
  const image = readFileSync(path.join(FIXTURE_MODEL_DIR, 'images/rgb224.png')).toString('base64');
  const scored = await app.graphql(
    'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { topLabels { label similarity } } }',
    { i: { taxonomyId, images: [{ data: image }], topK: 3 } },
  );
  assert.equal(scored.errors, undefined, JSON.stringify(scored.errors));
  const embedded = await app.graphql('query($i: [ImageInput!]!) { embedImages(images: $i) }', {
    i: [{ data: image }],
  });
  const imageEmbedding: number[] = embedded.data.embedImages[0];
  for (const match of scored.data.scoreImages[0].topLabels) {
    const expected = dot(ids[LABELS.indexOf(match.label)], imageEmbedding);
    assert.ok(Math.abs(match.similarity - expected) < 1e-4, `${match.label}: ${match.similarity} vs ${expected}`);
  }

  // the method is part of the reuse key: the same parameters reuse the CSP set, NegLabel mines anew
  assert.equal(await mine(taxonomyId, { method: 'CSP', seed: 3, nearDuplicateThreshold: 0.9999 }), setId);
  const negLabel = await mine(taxonomyId, { nearDuplicateThreshold: 0.9999 });
  assert.notEqual(negLabel, setId);
  const params = await app.graphql('query($id: ID!) { negativeLabelSet(id: $id) { parameters { method } } }', {
    id: negLabel,
  });
  assert.equal(params.data.negativeLabelSet.parameters.method, 'NEGLABEL');
});

test('CSP refuses the options it replaces', async () => {
  const created = await app.graphql('mutation { createTaxonomy(input: { name: "csp-bad", labels: ["cat"] }) { id } }');
  const taxonomyId = created.data.createTaxonomy.id;
  for (const [extra, field] of [
    [{ nounPrompt: 'a {}' }, 'nounPrompt'],
    [{ adjectivePrompt: 'a {} one' }, 'adjectivePrompt'],
    [{ excludeNearDuplicates: false }, 'excludeNearDuplicates'],
  ] as const) {
    const refused = await app.graphql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
      i: { taxonomyId, method: 'CSP', ...extra },
    });
    assert.equal(refused.errors?.[0].extensions.code, 'INVALID_PARAMETER', field);
    assert.equal(refused.errors?.[0].extensions.field, field);
  }
  const jobs = await app.graphql('query($t: ID!) { taxonomy(id: $t) { versions { miningJobs { id } } } }', {
    t: taxonomyId,
  });
  assert.deepEqual(jobs.data.taxonomy.versions[0].miningJobs, []);
});
