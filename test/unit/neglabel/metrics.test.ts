import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc, averagePrecision, calibrateThreshold, fprAtTpr, oodMetrics } from '../../../src/neglabel/metrics.ts';

test('AUROC counts pairs, ties as one half (hand-computed)', () => {
  assert.equal(auroc([3, 4], [1, 2]), 1);
  assert.equal(auroc([1, 2], [3, 4]), 0);
  // pairs: (2,1) win, (2,2) tie, (2,3) loss, (5,·) 3 wins → (1 + 0.5 + 3) / 6
  assert.equal(auroc([2, 5], [1, 2, 3]), 4.5 / 6);
});

test('FPR95 uses the threshold whose ID recall is closest to 0.95', () => {
  const id = Array.from({ length: 20 }, (_, i) => i + 1); // 1..20
  // recall 0.95 is reached at threshold 2 (19 of 20 ID scores ≥ 2); OOD scores ≥ 2: 2.5 and 10
  assert.equal(fprAtTpr(id, [0.5, 1.5, 2.5, 10], 0.95), 0.5);
});

test('average precision matches a hand computation; AUPR-Out uses negated scores', () => {
  // ranking: 0.9 P, 0.8 N, 0.7 P → AP = 0.5·1 + 0.5·(2/3)
  assert.ok(Math.abs(averagePrecision([0.9, 0.7], [0.8]) - (0.5 + 1 / 3)) < 1e-12);
  const m = oodMetrics([0.9, 0.7], [0.8]);
  // OOD positive on −score: −0.7 N… order −0.7 (ID), −0.8 (OOD), −0.9 (ID) → AP = 1·(1/2)
  assert.ok(Math.abs(m.auprOut - 0.5) < 1e-12);
  assert.equal(m.auroc, 0.5);
});

test('calibration picks the highest threshold reaching the target TPR', () => {
  const scores = Array.from({ length: 100 }, (_, i) => i / 100);
  const { threshold, achievedTpr } = calibrateThreshold(scores, 0.95);
  assert.equal(threshold, 0.05);
  assert.equal(achievedTpr, 0.95);
  assert.equal(calibrateThreshold([0.3], 0.5).threshold, 0.3);
});
