/**
 * The adaptive memory's bookkeeping over an in-memory history: it reads only new records, fetches
 * a vector once, and a snapshot in flight keeps its rows while later requests change the memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareCandidates, countByCaller, type MemoryCandidate, selectMemory } from '../../../src/neglabel/memory.ts';
import { mulberry32 } from '../../../src/neglabel/random.ts';
import type { ScoringRecordRepository } from '../../../src/repositories/scoring-record-repository.ts';
import { AdaptiveMemories } from '../../../src/services/adaptive-memory.ts';

class FakeHistory {
  records: Array<MemoryCandidate & { vector: Float32Array }> = [];
  fetched: number[] = [];
  readAfter: number[] = [];
  readAt: number[] = [];
  add(score: number, caller = 'k'): number {
    const id = this.records.length + 1;
    this.records.push({ id, score, caller, vector: Float32Array.from([id, -id]) });
    return id;
  }
  /** positions are `0:id` here: the fake's history is in id order */
  async memoryCandidatesAfter(_v: string, _s: string, _m: string, after: string | null) {
    const afterId = after === null ? 0 : Number(after.split(':')[1]);
    this.readAfter.push(afterId);
    const candidates = this.records
      .filter((r) => r.id > afterId)
      .map(({ id, score, caller }) => ({ id, score, caller }));
    return { candidates, last: candidates.length ? `0:${candidates.at(-1)!.id}` : after };
  }
  async memoryCandidatesAt(_v: string, _s: string, _m: string, horizon: number, perCaller: number) {
    this.readAt.push(horizon);
    const eligible = this.records.filter((r) => r.id <= horizon);
    const byRank = [...eligible].sort((a, b) => a.score - b.score || a.id - b.id);
    const taken = new Map<string, number>();
    const candidates = byRank
      .filter((r) => {
        taken.set(r.caller, (taken.get(r.caller) ?? 0) + 1);
        return taken.get(r.caller)! <= perCaller;
      })
      .map(({ id, score, caller }) => ({ id, score, caller }));
    return { candidates, eligible: countByCaller(eligible) };
  }
  async embeddings(ids: readonly number[]) {
    this.fetched.push(...ids);
    return new Map(ids.map((id) => [id, this.records[id - 1].vector]));
  }
}

const KEY = { versionId: 'v', setId: 's', modelId: 'm', dim: 2 };
const vectorsOf = (s: { rows: { arena: SharedArrayBuffer; rows: Int32Array } }) => {
  const arena = new Float32Array(s.rows.arena);
  return [...s.rows.rows].map((r) => arena[r * 2]).sort((a, b) => a - b);
};

test('a snapshot reads only new records, fetches a vector once, and keeps its rows while in flight', async () => {
  const history = new FakeHistory();
  const policy = { maxSize: 3, maxFraction: 1, maxCallerShare: 1 };
  const memories = new AdaptiveMemories(history as unknown as ScoringRecordRepository, policy);
  const frozenAt4 = { snapshotId: 4, policy };
  for (const score of [0.5, 0.4, 0.9, 0.8]) history.add(score);
  const first = await memories.snapshot(KEY, null);
  assert.equal(first.snapshotId, '4');
  assert.deepEqual(vectorsOf(first), [1, 2, 4]); // scores 0.5, 0.4, 0.8
  // lower scores arrive: the memory changes while `first` is still in flight
  history.add(0.1);
  history.add(0.2);
  const second = await memories.snapshot(KEY, null);
  assert.deepEqual(vectorsOf(second), [2, 5, 6]); // scores 0.4, 0.1, 0.2
  assert.deepEqual(vectorsOf(first), [1, 2, 4], 'the snapshot in flight is untouched');
  assert.deepEqual(history.readAfter, [0, 4], 'only records after the last seen are read');
  assert.deepEqual(history.fetched.sort(), [1, 2, 4, 5, 6], 'each vector fetched once');
  first.release();
  second.release();
  // frozen at 4: the memory as it was (read once from the history), from the rows already held
  const frozen = await memories.snapshot(KEY, frozenAt4);
  assert.equal(frozen.snapshotId, '4');
  assert.deepEqual(vectorsOf(frozen), [1, 2, 4]);
  frozen.release();
  (await memories.snapshot(KEY, frozenAt4)).release();
  assert.deepEqual(history.readAt, [4], 'a frozen snapshot is read once');
  assert.deepEqual(history.fetched.sort(), [1, 2, 4, 5, 6], 'its vectors were held already');
  // many releases and snapshots later the arena still holds every member correctly
  for (let i = 0; i < 50; i++) {
    history.add(0.05 - i * 0.001);
    const s = await memories.snapshot(KEY, null);
    const ids = history.records
      .slice()
      .sort((a, b) => a.score - b.score || a.id - b.id)
      .slice(0, 3)
      .map((r) => r.id)
      .sort((a, b) => a - b);
    assert.deepEqual(vectorsOf(s), ids);
    s.release();
  }
});

test("keeping only each caller's lowest records gives the memory the whole history gives", async () => {
  const history = new FakeHistory();
  const policy = { maxSize: 40, maxFraction: 0.3, maxCallerShare: 0.25 };
  const memories = new AdaptiveMemories(history as unknown as ScoringRecordRepository, policy);
  const random = mulberry32(5);
  const callers = ['flood', 'a', 'b', 'c'];
  for (let round = 0; round < 12; round++) {
    // a flood of low scores from one key among a few others
    for (let i = 0; i < 25; i++) history.add(random() * (i % 2 ? 0.3 : 1), callers[i % 2 ? 0 : 1 + (i % 3)]);
    const snapshot = await memories.snapshot(KEY, null);
    const whole = selectMemory([...history.records].sort(compareCandidates), policy);
    assert.deepEqual(
      vectorsOf(snapshot),
      whole.map((m) => m.id).sort((a, b) => a - b),
      `round ${round}`,
    );
    snapshot.release();
  }
});

test('a frozen snapshot keeps the policy it was frozen under, whatever the service runs with later', async () => {
  const history = new FakeHistory();
  for (const score of [0.5, 0.4, 0.9, 0.8, 0.1, 0.2]) history.add(score);
  const frozenUnder = { maxSize: 3, maxFraction: 1, maxCallerShare: 1 };
  const before = new AdaptiveMemories(history as unknown as ScoringRecordRepository, frozenUnder);
  const freeze = { snapshotId: 6, policy: frozenUnder };
  const original = await before.snapshot(KEY, freeze);
  // a restart with other memory settings: the frozen memory has the same members
  const restarted = new AdaptiveMemories(history as unknown as ScoringRecordRepository, {
    maxSize: 1,
    maxFraction: 0.2,
    maxCallerShare: 1,
  });
  const after = await restarted.snapshot(KEY, freeze);
  assert.deepEqual(vectorsOf(after), vectorsOf(original));
  assert.deepEqual(vectorsOf(original), [2, 5, 6]);
  const live = await restarted.snapshot(KEY, null);
  assert.deepEqual(vectorsOf(live), [5], 'the live memory follows the new settings');
});
