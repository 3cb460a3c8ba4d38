import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { calibrateThreshold, oodMetrics } from '../../../src/neglabel/metrics.ts';

interface ReferenceCase {
  name: string;
  id: number[];
  ood: number[];
  fpr95: number;
  auroc: number;
  aupr_in: number;
  aupr_out: number;
  threshold_at_tpr95: number;
  fpr_at_threshold95: number;
}
const reference: { cases: ReferenceCase[] } = JSON.parse(
  readFileSync(new URL('../../fixtures/ood-metrics/reference-vectors.json', import.meta.url), 'utf8'),
);
const TOLERANCE = 1e-9;

test('reference vectors: every metric equals the papers evaluator and scikit-learn within 1e-9', () => {
  assert.ok(reference.cases.length >= 10);
  for (const c of reference.cases) {
    const m = oodMetrics(c.id, c.ood);
    const expected = {
      fpr95: c.fpr95,
      auroc: c.auroc,
      auprIn: c.aupr_in,
      auprOut: c.aupr_out,
      threshold95: c.threshold_at_tpr95,
      fpr95AtThreshold: c.fpr_at_threshold95,
    };
    for (const [key, value] of Object.entries(expected)) {
      const actual = m[key as keyof typeof m];
      assert.ok(Math.abs(actual - value) <= TOLERANCE, `${c.name}: ${key} = ${actual}, reference ${value}`);
    }
  }
});

test('the reference cases include the two FPR conventions disagreeing, so the test can tell them apart', () => {
  assert.ok(reference.cases.some((c) => c.fpr95 !== c.fpr_at_threshold95));
});

test('calibrateThreshold returns the threshold95 of the metrics for the same ID scores', () => {
  for (const c of reference.cases) {
    assert.equal(calibrateThreshold(c.id, 0.95).threshold, oodMetrics(c.id, c.ood).threshold95, c.name);
  }
});

test('AUROC counts pairs, ties as one half (hand-computed)', () => {
  assert.equal(oodMetrics([3, 4], [1, 2]).auroc, 1);
  assert.equal(oodMetrics([1, 2], [3, 4]).auroc, 0);
  // pairs: (2,1) win, (2,2) tie, (2,3) loss, (5,·) 3 wins → (1 + 0.5 + 3) / 6
  assert.equal(oodMetrics([2, 5], [1, 2, 3]).auroc, 4.5 / 6);
});

test('calibration: the highest threshold reaching the target TPR, ties keep more', () => {
  const scores = Array.from({ length: 100 }, (_, i) => i / 100);
  assert.deepEqual(calibrateThreshold(scores, 0.95), { threshold: 0.05, achievedTpr: 0.95 });
  assert.deepEqual(calibrateThreshold([0.3], 0.5), { threshold: 0.3, achievedTpr: 1 });
  // 3 of 4 needed; the third-highest score is tied with the fourth, so all 4 are kept
  assert.deepEqual(calibrateThreshold([0.9, 0.8, 0.5, 0.5], 0.75), { threshold: 0.5, achievedTpr: 1 });
});

test('metrics refuse empty and NaN inputs instead of returning NaN', () => {
  assert.throws(() => oodMetrics([], [1]), /at least one ID/);
  assert.throws(() => oodMetrics([1], [Number.NaN]), /NaN/);
  assert.throws(() => calibrateThreshold([1], 0), /targetTpr/);
});
