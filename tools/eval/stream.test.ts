import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planStream, runStream } from './stream.ts';

test('a stream plan warms and tests on disjoint seeded halves at its ID:OOD ratio', () => {
  const plan = planStream(20, 100, 4, 7);
  const key = (x: { ood: boolean; index: number }) => `${x.ood}:${x.index}`;
  const warm = new Set(plan.warm.map(key));
  assert.ok(
    plan.test.every((t) => !warm.has(key(t))),
    'halves are disjoint',
  );
  for (const part of [plan.warm, plan.test]) {
    const ids = part.filter((x) => !x.ood).length;
    assert.equal(ids, 10);
    assert.equal(part.length - ids, 40);
  }
  assert.deepEqual(planStream(20, 100, 4, 7), plan, 'seeded');
  assert.notDeepEqual(planStream(20, 100, 4, 8).test, plan.test);
  // OOD scarcer than the ratio asks: fewer ID images, never a different ratio
  const scarce = planStream(20, 10, 4, 7);
  assert.deepEqual([scarce.test.filter((x) => !x.ood).length, scarce.test.filter((x) => x.ood).length], [1, 4]);
});

test('each test image meets the memory of the images before it, never itself', () => {
  // 2-d unit vectors; the static score is the first coordinate, so the memory holds the lowest
  const angle = (a: number) => Float32Array.from([Math.cos(a), Math.sin(a)]);
  const id = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map(angle);
  const plan = {
    ratio: 1,
    warm: [0, 1, 2, 3, 4].map((index) => ({ ood: false, index })),
    test: [{ ood: false, index: 5 }],
  };
  const policy = { maxSize: 5, maxFraction: 1, maxCallerShare: 1 };
  const { staticScores, adaptiveScores, memorySize } = runStream(plan, { id, ood: [] }, (e) => e[0], policy);
  assert.equal(memorySize, 5);
  // memory: the five warm-up images; c5 is the cosine to the farthest of them (angle 0.1)
  const c5 = Math.cos(0.6 - 0.1);
  assert.ok(Math.abs(staticScores[0] - Math.cos(0.6)) < 1e-6);
  assert.ok(Math.abs(adaptiveScores[0] - (Math.cos(0.6) - c5)) < 1e-6);
});
