import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  candidateStatistics,
  mineNegativeSet,
  quantileInPlace,
  selectNegatives,
} from '../../../src/neglabel/mining.ts';
import type { CorpusWord } from '../../../src/neglabel/corpus.ts';
import { mulberry32 } from '../../../src/neglabel/random.ts';
import { randomUnitVectors } from '../../../src/neglabel/random.ts';

/** numpy.quantile(values, q) with the default linear method, by full sort. */
function sortedQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

test('quickselect quantile equals the sorted linear-interpolation quantile, duplicates included', () => {
  const random = mulberry32(7);
  for (const n of [1, 2, 3, 10, 101, 1000]) {
    for (const q of [0, 0.05, 0.5, 0.95, 1]) {
      const values = Array.from({ length: n }, () => Math.round(random() * 20) / 10); // many ties
      const got = quantileInPlace(Float64Array.from(values), n, q);
      assert.ok(Math.abs(got - sortedQuantile(values, q)) < 1e-12, `n=${n} q=${q}`);
    }
  }
  assert.equal(quantileInPlace(Float64Array.from([3, 1]), 2, 0.95), 1 + 0.95 * 2);
});

test('candidate statistics equal a direct float64 evaluation (1e-6)', () => {
  const dim = 16;
  const candidates = randomUnitVectors(300, dim, 1);
  const ids = randomUnitVectors(37, dim, 2);
  const stats = candidateStatistics(candidates, ids, dim, 0.95);
  for (let c = 0; c < 300; c++) {
    const sims: number[] = [];
    for (let k = 0; k < 37; k++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += candidates[c * dim + d] * ids[k * dim + d];
      sims.push(dot);
    }
    assert.ok(Math.abs(stats.quantile[c] - sortedQuantile(sims, 0.95)) < 1e-6);
    assert.ok(Math.abs(stats.max[c] - Math.max(...sims)) < 1e-6);
  }
});

/**
 * A constructed case with a known answer. Two ID labels on axes 0 and 2; candidate i has cosine
 * a_i to the first and c_i to the second, so its 0.95-quantile is min + 0.95·|a − c|.
 */
function constructedCase() {
  const dim = 4;
  const ids = new Float32Array([1, 0, 0, 0, 0, 0, 1, 0]);
  const corpus: CorpusWord[] = [];
  const rows: number[][] = [];
  const random = mulberry32(3);
  for (let i = 0; i < 30; i++) {
    const a = Math.round((random() * 0.8 - 0.4) * 1000) / 1000;
    const c = Math.round((random() * 0.8 - 0.4) * 1000) / 1000;
    rows.push([a, Math.sqrt(1 - a * a - c * c), c, 0]);
    corpus.push({ text: `word${i}`, pos: i < 20 ? 'noun' : 'adjective' });
  }
  const expectedQuantile = rows.map(([a, , c]) => Math.min(a, c) + 0.95 * Math.abs(a - c));
  return { dim, ids, corpus, candidates: new Float32Array(rows.flat()), expectedQuantile };
}

test('with exclusions off, percentile 0.95 and ratio 15 %, the selection is exactly the method page rule', () => {
  const { dim, ids, corpus, candidates, expectedQuantile } = constructedCase();
  const stats = candidateStatistics(candidates, ids, dim, 0.95);
  expectedQuantile.forEach((q, i) => {
    assert.ok(Math.abs(stats.quantile[i] - q) < 1e-6);
  });
  const selection = selectNegatives(corpus, stats, ['id a', 'id b'], {
    selectionRatio: 0.15,
    excludeNearDuplicates: false,
    nearDuplicateThreshold: 0.95,
  });
  // floor(20·0.15) = 3 nouns and floor(10·0.15) = 1 adjective, each ascending by quantile
  const byQuantile = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => i + from).sort((x, y) => expectedQuantile[x] - expectedQuantile[y]);
  assert.deepEqual(selection.indices, [...byQuantile(0, 20).slice(0, 3), ...byQuantile(20, 30).slice(0, 1)]);
  assert.equal(selection.excluded, 0);
});

test('an absolute count is split by pool size and capped at the pool; ties keep corpus order', () => {
  const corpus: CorpusWord[] = [
    { text: 'n0', pos: 'noun' },
    { text: 'n1', pos: 'noun' },
    { text: 'n2', pos: 'noun' },
    { text: 'a0', pos: 'adjective' },
  ];
  const stats = { quantile: Float64Array.from([0.2, 0.1, 0.1, 0.3]), max: Float64Array.from([0.5, 0.5, 0.5, 0.5]) };
  const options = { selectionRatio: 0.15, excludeNearDuplicates: false, nearDuplicateThreshold: 0.95 };
  assert.deepEqual(selectNegatives(corpus, stats, [], { ...options, count: 2 }).indices, [1, 2]);
  assert.deepEqual(selectNegatives(corpus, stats, [], { ...options, count: 100 }).indices, [1, 2, 0, 3]);
  assert.deepEqual(
    selectNegatives([], { quantile: new Float64Array(), max: new Float64Array() }, [], options).indices,
    [],
  );
});

test('exclusions drop exact ID names and near duplicates (max cosine > threshold), and only when on', () => {
  const corpus: CorpusWord[] = [
    { text: 'goldfish', pos: 'noun' },
    { text: 'near twin', pos: 'noun' },
    { text: 'far', pos: 'noun' },
  ];
  const stats = { quantile: Float64Array.from([0.0, 0.1, 0.2]), max: Float64Array.from([0.3, 0.96, 0.3]) };
  const options = { selectionRatio: 1, excludeNearDuplicates: true, nearDuplicateThreshold: 0.95 };
  const on = selectNegatives(corpus, stats, ['Goldfish', 'tench'], options);
  assert.deepEqual(on.indices, [2]);
  assert.equal(on.excluded, 2);
  const off = selectNegatives(corpus, stats, ['Goldfish', 'tench'], { ...options, excludeNearDuplicates: false });
  assert.deepEqual(off.indices, [0, 1, 2]);
});

test('a mined set keeps whole groups of the selection, in set order, and refuses more groups than negatives', () => {
  const corpus: CorpusWord[] = Array.from({ length: 7 }, (_, i) => ({ text: `w${i}`, pos: 'noun' }));
  // quantiles descending, so the selection (ascending by quantile) is 6, 5, 4, 3, 2, 1, 0
  const stats = {
    quantile: Float64Array.from([0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
    max: new Float64Array(7).fill(0.5),
  };
  const options = { selectionRatio: 1, excludeNearDuplicates: false, nearDuplicateThreshold: 0.95, seed: 3 };
  const mined = mineNegativeSet(corpus, stats, [], { ...options, groups: 3 });
  assert.deepEqual(mined.indices, [6, 5, 4, 3, 2, 1], 'the last 7 mod 3 = 1 selected is dropped');
  assert.deepEqual(Array.from(mined.group).sort(), [0, 0, 1, 1, 2, 2], 'two negatives in each of the three groups');
  assert.throws(() => mineNegativeSet(corpus, stats, [], { ...options, groups: 8 }), /only 7 negatives were selected/);
});
