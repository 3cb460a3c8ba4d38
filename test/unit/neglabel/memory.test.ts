import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countByCaller,
  memoryCapacity,
  memoryPenalty,
  memoryQuotas,
  selectMemory,
  type MemoryCandidate,
} from '../../../src/neglabel/memory.ts';
import { mulberry32 } from '../../../src/neglabel/random.ts';

const policy = { maxSize: 4, maxFraction: 0.5, maxCallerShare: 0.5 };
const sorted = (c: MemoryCandidate[]) => [...c].sort((a, b) => a.score - b.score || a.id - b.id);

test("the memory: each caller's lowest, min(cap, maxFraction × its records), one common level when full", () => {
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
  // cap = 0.5 × 4 = 2; quotas ⌊0.5 × records⌋: flood 3 → 1, a 3 → 1, b 2 → 1
  assert.deepEqual(
    memoryQuotas(countByCaller(history.filter((c) => c.id <= 8)), policy),
    new Map([
      ['flood', 1],
      ['a', 1],
      ['b', 1],
    ]),
  );
  const upTo = (last: number) => history.filter((c) => c.id <= last);
  assert.deepEqual(
    selectMemory(upTo(8), policy).map((m) => m.id),
    [6, 1, 4],
  );
  // records 1-5: a and b have one record each, so no quota yet
  assert.deepEqual(
    selectMemory(upTo(5), policy).map((m) => m.id),
    [1],
  );
  // eligible counted apart from the candidates: only some records were kept
  assert.deepEqual(
    selectMemory(
      upTo(8).slice(0, 3),
      policy,
      new Map([
        ['b', 2],
        ['flood', 6],
      ]),
    ).map((m) => m.id),
    [6, 1, 2],
  );
  assert.deepEqual(selectMemory([], policy), []);
  // full: quotas 2, 2, 2 add up to 6 > 4, so each is cut to the common level 1 (3 ≤ 4, while 2 gives 6)
  assert.deepEqual(
    [
      ...memoryQuotas(
        new Map([
          ['x', 10],
          ['y', 10],
          ['z', 10],
        ]),
        policy,
      ).values(),
    ],
    [1, 1, 1],
  );
  assert.equal(
    memoryCapacity(
      new Map([
        ['x', 10],
        ['y', 10],
        ['z', 10],
      ]),
      policy,
    ),
    3,
  );
});

test("whatever one key sends, others' members stay while the memory has room; the key holds at most its cap", () => {
  const policy = { maxSize: 2048, maxFraction: 0.1, maxCallerShare: 0.25 };
  const random = mulberry32(11);
  const victims = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, score: random(), caller: `victim-${i % 3}` }));
  const alone = selectMemory(sorted(victims), policy);
  const ofVictims = (members: MemoryCandidate[]) =>
    members
      .filter((m) => m.caller !== 'attacker')
      .map((m) => m.id)
      .sort((a, b) => a - b);
  for (const [name, score] of [
    ['high scores (raising the capacity)', () => 0.99 + random() * 0.01],
    ['low scores (pushing others out)', () => random() * 0.001],
    ['one cached image, again and again', () => 0.0005],
  ] as const) {
    for (const flood of [10, 1000, 100_000]) {
      const attack = Array.from({ length: flood }, (_, i) => ({ id: 10_000 + i, score: score(), caller: 'attacker' }));
      const members = selectMemory(sorted([...victims, ...attack]), policy);
      assert.deepEqual(ofVictims(members), ofVictims(alone), `${name}, ${flood} records`);
      const held = members.length - ofVictims(members).length;
      assert.ok(held <= Math.min(512, Math.floor(0.1 * flood)), `${name}, ${flood}: the attacker holds ${held}`);
    }
  }
  // five keys at their cap fill the memory: a sixth key's flood cuts each of them to the common level,
  // so no key loses more than its cap's share of the memory to it
  const full = Array.from({ length: 30_000 }, (_, i) => ({ id: i + 1, score: random(), caller: `k${i % 5}` }));
  const before = countByCaller(selectMemory(sorted(full), policy));
  const attack = Array.from({ length: 100_000 }, (_, i) => ({ id: 50_000 + i, score: 0, caller: 'attacker' }));
  const after = countByCaller(selectMemory(sorted([...full, ...attack]), policy));
  assert.equal(after.get('attacker'), Math.floor(2048 / 6));
  let lost = 0;
  for (const [caller, count] of before) {
    assert.equal(count, Math.floor(2048 / 5), caller);
    assert.equal(after.get(caller), Math.floor(2048 / 6), caller);
    lost += count - after.get(caller)!;
  }
  assert.ok(lost <= 512, `the other keys lost ${lost} members together, at most the attacker's cap`);
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
