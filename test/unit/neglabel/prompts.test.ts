import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPrompt, ensembleEmbedding, promptTemplateProblem } from '../../../src/neglabel/prompts.ts';

test('templates need exactly one {} and are applied literally', () => {
  assert.equal(applyPrompt('the nice {}', 'goldfish'), 'the nice goldfish');
  assert.equal(applyPrompt('This is a {} photo', '$&'), 'This is a $& photo');
  assert.equal(promptTemplateProblem('a {} b'), null);
  assert.match(promptTemplateProblem('no slot')!, /exactly once/);
  assert.match(promptTemplateProblem('{} and {}')!, /exactly once/);
});

test('an ensemble is the renormalized mean of the embeddings (hand-computed)', () => {
  const e = ensembleEmbedding([Float32Array.from([1, 0]), Float32Array.from([0, 1])]);
  assert.ok(Math.abs(e[0] - Math.SQRT1_2) < 1e-7 && Math.abs(e[1] - Math.SQRT1_2) < 1e-7);
  const same = ensembleEmbedding([Float32Array.from([0.6, 0.8])]);
  assert.ok(Math.abs(same[0] - 0.6) < 1e-7 && Math.abs(same[1] - 0.8) < 1e-7);
});
