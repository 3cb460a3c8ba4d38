import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryCapacity, memoryPenalty, selectMemory, type MemoryCandidate } from '../../../src/neglabel/memory.ts';

const policy = { maxSize: 4, maxFraction: 0.5, maxCallerShare: 0.5 };
const sorted = (c: MemoryCandidate[]) => [...c].sort((a, b) => a.score - b.score || a.id - b.id);

test('the memory: the lowest scores, up to min(maxSize, maxFraction × eligible), a caller at most its share', () => {
  const history = sorted([
    { id: 1, score: 0.1, caller: 'flood' },
    { id: 2, score: 0.2, caller: 'flood' },
    { id: 3, score: 0.3, caller: 'flood' },
    { id: 4, score: 0.4, caller: 'a' },
    { id: 5, score: 0.5, caller: 'b' },
    { id: 6, score: 0.05, caller: 'b' },
    { id: 7, score: 0.9, caller: 'a' },
    { id: 8, score: 0.6, caller: 'a' },
    { id: 9, score: 0.01, caller: 'late' },
  ]);
  assert.equal(memoryCapacity(8, policy), 4);
  assert.equal(memoryCapacity(5, policy), 2);
  const upTo = (last: number) => history.filter((c) => c.id <= last);
  // a snapshot of records 1-8: eligible 8 → capacity 4, 2 per caller: b(0.05), flood(0.1, 0.2), then flood is
  // full → a(0.4)
  assert.deepEqual(
    selectMemory(upTo(8), policy).map((m) => m.id),
    [6, 1, 2, 4],
  );
  // records 1-5: eligible 5 → capacity 2, 1 per caller
  assert.deepEqual(
    selectMemory(upTo(5), policy).map((m) => m.id),
    [1, 4],
  );
  // eligible counted apart from the candidates: 8 records of which only these were kept
  assert.deepEqual(
    selectMemory(upTo(8).slice(0, 3), policy, 8).map((m) => m.id),
    [6, 1, 2],
  );
  assert.deepEqual(selectMemory([], policy), []);
});

test('the penalty is the 5th-largest cosine over the listed rows, 0 below 5 members', () => {
  const dim = 2;
  // rows at angles whose cosine with (1, 0) is known
  const cosines = [0.9, 0.1, 0.7, -0.2, 0.5, 0.3, 0.8];
  const arena = new Float32Array(cosines.flatMap((c) => [c, Math.sqrt(1 - c * c)]));
  const image = Float32Array.from([1, 0]);
  const all = Int32Array.from(cosines.keys());
  assert.ok(Math.abs(memoryPenalty(image, arena, all, dim) - 0.3) < 1e-7);
  // only the listed rows count
  assert.ok(Math.abs(memoryPenalty(image, arena, Int32Array.from([1, 3, 4, 5, 6]), dim) - -0.2) < 1e-7);
  assert.equal(memoryPenalty(image, arena, Int32Array.from([0, 2, 6, 4]), dim), 0);
});
