import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapIntervals } from '../../../src/neglabel/bootstrap.ts';
import { mulberry32 } from '../../../src/neglabel/random.ts';
import { oodMetrics } from '../../../src/neglabel/metrics.ts';

/** Scores of a two-Gaussian benchmark (Box–Muller from a seeded stream). */
function normals(n: number, mean: number, seed: number): number[] {
  const random = mulberry32(seed);
  return Array.from(
    { length: n },
    () => mean + Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()),
  );
}

test('bootstrap intervals are seeded, contain the point estimate and narrow as samples grow', () => {
  const small = { id: normals(30, 1, 1), ood: normals(30, 0, 2) };
  const large = { id: normals(600, 1, 3), ood: normals(600, 0, 4) };
  const a = bootstrapIntervals(small.id, small.ood, { resamples: 400, seed: 7 });
  assert.deepEqual(a, bootstrapIntervals(small.id, small.ood, { resamples: 400, seed: 7 }));
  assert.notDeepEqual(a, bootstrapIntervals(small.id, small.ood, { resamples: 400, seed: 8 }));
  const point = oodMetrics(small.id, small.ood);
  assert.ok(a.auroc.low <= point.auroc && point.auroc <= a.auroc.high);
  assert.ok(a.fpr95.low <= point.fpr95 && point.fpr95 <= a.fpr95.high);
  const b = bootstrapIntervals(large.id, large.ood, { resamples: 400, seed: 7 });
  assert.ok(b.auroc.high - b.auroc.low < (a.auroc.high - a.auroc.low) / 2, 'width shrinks roughly as 1/sqrt(n)');
  // the true AUROC of N(1,1) vs N(0,1) is Φ(1/√2) ≈ 0.760
  assert.ok(b.auroc.low < 0.7602 && 0.7602 < b.auroc.high, `${JSON.stringify(b.auroc)}`);
});
