import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PromptEmbedding } from '../../../src/neglabel/candidates.ts';
import type { CorpusWord } from '../../../src/neglabel/corpus.ts';
import { CSP_EXCLUDED_LEXFILES, CSP_LABEL_TEMPLATES } from '../../../src/neglabel/csp.ts';
import {
  distinctPrompts,
  excludedLexfiles,
  minedBank,
  minedLabels,
  ownIdLabelPrompts,
  planMining,
  stackEmbeddings,
  type MiningRecipe,
} from '../../../src/neglabel/mining-pipeline.ts';

const RECIPE: MiningRecipe = {
  percentile: 0.95,
  selectionRatio: 0.15,
  excludeNearDuplicates: true,
  nearDuplicateThreshold: 0.95,
  groups: 2,
  seed: 0,
  nounPrompt: 'a {}',
  adjectivePrompt: '{} thing',
};
const CORPUS: CorpusWord[] = [
  { text: 'lamp', pos: 'noun' },
  { text: 'red', pos: 'adjective' },
  { text: 'cup', pos: 'noun' },
];

test('NegLabel encodes each word in its part of speech’s template; an ensemble lists every template', () => {
  const plan = planMining(RECIPE, CORPUS);
  assert.equal(plan.rawMean, false);
  assert.deepEqual(
    plan.candidates.map((c) => c.prompts),
    [['a lamp'], ['red thing'], ['a cup']],
  );
  const ensemble = planMining({ ...RECIPE, nounPromptTemplates: ['a {}', 'the {}'] }, CORPUS);
  assert.deepEqual(ensemble.candidates[0].prompts, ['a lamp', 'the lamp']);
  assert.deepEqual(ensemble.candidates[1].prompts, ['red thing'], 'adjectives keep their one template');
  assert.equal(ownIdLabelPrompts(RECIPE, ['dog']), null, 'NegLabel uses the taxonomy’s label embeddings');
  assert.deepEqual(excludedLexfiles(RECIPE), []);
});

test('CSP brings its own pool, raw-mean ensembles and ID-label prompts', () => {
  const csp = { ...RECIPE, method: 'CSP' as const };
  const plan = planMining(csp, CORPUS);
  assert.equal(plan.rawMean, true);
  assert.equal(plan.candidates[0].prompts.length, CSP_LABEL_TEMPLATES.length);
  assert.match(plan.candidates[1].word, /^red \w+$/, 'an adjective becomes a phrase');
  assert.deepEqual(
    ownIdLabelPrompts(csp, ['dog'])?.[0],
    CSP_LABEL_TEMPLATES.map((t) => t.replace('{}', 'dog')),
  );
  assert.deepEqual(excludedLexfiles(csp), CSP_EXCLUDED_LEXFILES);
});

test('stacked rows are one prompt’s embedding, or the unit or raw mean of an ensemble', async () => {
  const embedded = new Map<string, PromptEmbedding>([
    ['a', { vector: Float32Array.of(1, 0), norm: 3 }],
    ['b', { vector: Float32Array.of(0, 1), norm: 1 }],
  ]);
  const lists = [['a'], ['a', 'b'], ['b']];
  assert.deepEqual(distinctPrompts(lists), ['a', 'b']);
  const unit = await stackEmbeddings(lists, embedded, false, 2);
  const half = Math.SQRT1_2;
  assert.deepEqual([...unit], [1, 0, Math.fround(half), Math.fround(half), 0, 1]);
  // raw mean: (3·(1,0) + 1·(0,1)) / 2, renormalized = (3, 1) / √10
  const raw = await stackEmbeddings(lists, embedded, true, 2);
  assert.ok(Math.abs(raw[2] - 3 / Math.sqrt(10)) < 1e-6 && Math.abs(raw[3] - 1 / Math.sqrt(10)) < 1e-6);
});

test('a mined selection becomes the stored labels and the bank it scores with', () => {
  const plan = planMining(RECIPE, CORPUS);
  const embedded = new Map<string, PromptEmbedding>([
    ['a lamp', { vector: Float32Array.of(1, 0), norm: null }],
    ['red thing', { vector: Float32Array.of(0, 1), norm: null }],
    ['a cup', { vector: Float32Array.of(-1, 0), norm: null }],
  ]);
  const stats = { quantile: Float64Array.of(0.1, 0.2, 0.3), max: Float64Array.of(0.4, 0.5, 0.6) };
  const mined = { indices: [2, 1], group: Int32Array.of(1, 0), excluded: 1 };
  const labels = minedLabels(plan, stats, mined, embedded);
  assert.deepEqual(
    labels.map((l) => [l.word, l.prompt, l.partOfSpeech, l.quantileSimilarity, l.maxSimilarity, l.group]),
    [
      ['cup', 'a cup', 'noun', 0.3, 0.6, 1],
      ['red', 'red thing', 'adjective', 0.2, 0.5, 0],
    ],
  );
  assert.deepEqual([...labels[0].embedding], [-1, 0]);
  const matrix = Float32Array.of(1, 0, 0, 1, -1, 0);
  const ids = Float32Array.of(0.6, 0.8);
  const bank = minedBank(ids, matrix, mined, 2, 2, 50);
  assert.deepEqual([...bank.negativeEmbeddings], [-1, 0, 0, 1], 'rows of the kept candidates, in set order');
  assert.deepEqual([...bank.negativeGroups], [1, 0]);
  assert.equal(bank.idEmbeddings, ids);
  assert.equal(bank.groupCount, 2);
  assert.equal(bank.logitScale, 50);
});
