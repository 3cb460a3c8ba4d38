import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignGroups } from '../../../src/neglabel/grouping.ts';
import { scoreImage, type LabelBank } from '../../../src/neglabel/scoring.ts';
import { randomUnitVectors } from '../../../src/neglabel/random.ts';

function bank(groups: number, seed = 0, logitScale = 100): LabelBank {
  const dim = 32;
  const negatives = 1003;
  const { kept, group } = assignGroups(negatives, groups, seed);
  return {
    dim,
    idEmbeddings: randomUnitVectors(50, dim, 11),
    negativeEmbeddings: randomUnitVectors(negatives, dim, 12).subarray(0, kept * dim),
    negativeGroups: group,
    groupCount: groups,
    logitScale,
  };
}

/**
 * The formulas of the method page at the bank's logit scale, evaluated directly in float64
 * (exp(100) fits in a double).
 */
function directScore(b: LabelBank, image: Float32Array) {
  const cos = (m: Float32Array, r: number) => {
    let dot = 0;
    for (let d = 0; d < b.dim; d++) dot += m[r * b.dim + d] * image[d];
    return dot;
  };
  const idExp = Array.from({ length: b.idEmbeddings.length / b.dim }, (_, i) =>
    Math.exp(b.logitScale * cos(b.idEmbeddings, i)),
  );
  const negExp = Array.from({ length: b.negativeEmbeddings.length / b.dim }, (_, j) =>
    Math.exp(b.logitScale * cos(b.negativeEmbeddings, j)),
  );
  const sumId = idExp.reduce((a, c) => a + c, 0);
  let grouped = 0;
  for (let g = 0; g < b.groupCount; g++) {
    const sumNeg = negExp.reduce((a, e, j) => (b.negativeGroups[j] === g ? a + e : a), 0);
    grouped += sumId / (sumId + sumNeg);
  }
  const allNeg = negExp.reduce((a, c) => a + c, 0);
  return {
    score: grouped / b.groupCount,
    ungrouped: sumId / (sumId + allNeg),
    logit: Math.log(sumId) - Math.log(allNeg),
    predicted: idExp.indexOf(Math.max(...idExp)),
  };
}

test('grouped score, logit score and prediction equal the direct float64 formulas (1e-6)', () => {
  for (const [groups, logitScale] of [
    [1, 100],
    [7, 100],
    [100, 100],
    [7, 26],
    [100, 26],
  ]) {
    const b = bank(groups, 0, logitScale);
    const images = randomUnitVectors(20, 32, 99);
    for (let i = 0; i < 20; i++) {
      const image = images.subarray(i * 32, (i + 1) * 32);
      const got = scoreImage(b, image, 3);
      const want = directScore(b, image);
      assert.ok(Math.abs(got.score - want.score) < 1e-6, `groups=${groups} image=${i}: ${got.score} vs ${want.score}`);
      assert.ok(Math.abs(got.logitScore - want.logit) < 1e-6);
      assert.equal(got.predictedIndex, want.predicted);
      if (groups === 1) assert.ok(Math.abs(got.score - want.ungrouped) < 1e-6, 'n_g = 1 must be the ungrouped S');
    }
  }
});

test('a lower logit scale keeps the same ranking of ID labels and unsaturates the score', () => {
  // an image on top of ID label 3: at scale 100 its score is 1 to within 1e-9 (no threshold can
  // separate such images), at scale 10 it is clearly below 1
  const image = bank(10).idEmbeddings.slice(3 * 32, 4 * 32);
  const hot = scoreImage(bank(10, 0, 100), image, 3);
  const cool = scoreImage(bank(10, 0, 10), image, 3);
  assert.deepEqual(
    cool.topLabels.map((m) => m.index),
    hot.topLabels.map((m) => m.index),
  );
  assert.equal(cool.predictedIndex, 3);
  assert.ok(1 - hot.score < 1e-9, `scale 100: ${hot.score}`);
  assert.ok(1 - cool.score > 1e-3 && cool.score > 0.5, `scale 10: ${cool.score}`);
});

test('scores stay finite where the naive float32 form overflows', () => {
  const b = bank(10);
  const image = b.idEmbeddings.slice(0, 32); // cos = 1 to an ID label: e^100 overflows float32
  const result = scoreImage(b, image, 5);
  assert.ok(Number.isFinite(result.score) && result.score > 0.99);
  assert.equal(result.predictedIndex, 0);
  assert.equal(result.topLabels[0].index, 0);
  assert.ok(Math.abs(result.topLabels[0].similarity - 1) < 1e-6);
  assert.equal(result.topNegatives.length, 5);
  assert.ok(result.topNegatives[0].similarity >= result.topNegatives[4].similarity);
});

test('grouping is reproducible, equal-sized, drops M mod n_g, and rejects more groups than negatives', () => {
  const a = assignGroups(1003, 100, 42);
  assert.deepEqual(a, assignGroups(1003, 100, 42));
  assert.notDeepEqual(a.group, assignGroups(1003, 100, 43).group);
  assert.equal(a.kept, 1000);
  const sizes = new Array(100).fill(0);
  for (const g of a.group) sizes[g]++;
  assert.ok(sizes.every((s) => s === 10));
  assert.throws(() => assignGroups(5, 6, 0), /exceeds/);
  assert.deepEqual(Array.from(assignGroups(3, 1, 0).group), [0, 0, 0]);
});
