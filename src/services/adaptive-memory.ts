/**
 * Adaptive memories, kept up to date from the scoring history (the policy and the penalty are
 * src/neglabel/memory.ts). One memory per (taxonomy version, negative set, model): never shared
 * across them. Per memory the main thread keeps, per caller, only the records that could ever enter
 * the memory (its lowest maxCallerShare × maxSize) and reads only records newer than the last it
 * saw, so a request costs one small query and the memory held stays bounded whatever the history's
 * size. The members' vectors live in a shared-memory arena the scoring workers read in place, and
 * a vector is fetched once, when its record enters the memory. A snapshot lists
 * arena rows; a row is reused only when no snapshot in flight lists it, so concurrent requests
 * each score against exactly their own snapshot.
 */
import type { MemoryRows } from '../inference/encoder.ts';
import { LruCache } from '../inference/lru-cache.ts';
import {
  callerCap,
  compareCandidates,
  type MemoryCandidate,
  type MemoryPolicy,
  memoryCapacity,
  selectMemory,
} from '../neglabel/memory.ts';
import type { ScoringRecordRepository } from '../repositories/scoring-record-repository.ts';

export interface MemoryKey {
  versionId: string;
  setId: string;
  modelId: string;
  dim: number;
}

/** The memory one request scores against. `release` when the scores are computed. */
export interface MemorySnapshot {
  /** the highest record id the memory drew from: records of its key with id <= it were eligible */
  snapshotId: string;
  size: number;
  rows: MemoryRows;
  release(): void;
}

/**
 * Where a request's memory stands: following the history under the service's policy (null), or
 * frozen at a snapshot under the policy stored with the freeze (a frozen memory never changes,
 * whatever the service's settings are later).
 */
export type MemoryFreeze = { snapshotId: number; policy: MemoryPolicy } | null;

/** What an auditor sees of a memory. */
export interface MemoryDescription {
  snapshotId: string;
  frozen: boolean;
  eligible: number;
  capacity: number;
  size: number;
  contributors: Array<{ caller: string; count: number }>;
}

const samePolicy = (a: MemoryPolicy, b: MemoryPolicy) =>
  a.maxSize === b.maxSize && a.maxFraction === b.maxFraction && a.maxCallerShare === b.maxCallerShare;

/** Memories kept at once; the least recently used is rebuilt from the history when needed again. */
const MEMORIES = 16;

class KeyMemory {
  /**
   * Per caller, its lowest-ranked records read so far, at most `keep`: a caller never fills more
   * than its share, so no record beyond a caller's lowest `keep` can enter the memory, and the
   * memory is exact from these lists alone. Bounded by callers × keep, whatever the history's size.
   */
  private readonly perCaller = new Map<string, MemoryCandidate[]>();
  private readonly keep: number;
  /** records of the key read so far, per caller (the eligible history of the live memory) */
  private readonly eligible = new Map<string, number>();
  /** the id of the last record read, in the history's order (0: none): the live snapshot's id */
  private seenUpTo = 0;
  /** its position, where the next read starts */
  private seenPosition: string | null = null;
  /** the last frozen snapshot's members, read with one query (a frozen memory never changes) */
  private frozen: {
    horizon: number;
    policy: MemoryPolicy;
    members: MemoryCandidate[];
    eligible: Map<string, number>;
  } | null = null;
  private arena: Float32Array;
  private readonly rowOf = new Map<number, number>();
  /** snapshots in flight that list each row */
  private readonly references = new Map<number, number>();
  private freeRows: number[] = [];
  /** refreshes run one at a time */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly key: MemoryKey,
    private readonly records: ScoringRecordRepository,
    private readonly policy: MemoryPolicy,
  ) {
    this.keep = callerCap(policy);
    this.arena = this.allocate(policy.maxSize + 64);
  }

  snapshot(freeze: MemoryFreeze): Promise<MemorySnapshot> {
    const next = this.queue.then(() => this.take(freeze));
    this.queue = next.catch(() => {});
    return next;
  }

  describe(freeze: MemoryFreeze): Promise<MemoryDescription> {
    const next = this.queue.then(async () => {
      const { horizon, members, eligible, policy } = await this.members(freeze);
      const counts = new Map<string, number>();
      for (const m of members) counts.set(m.caller, (counts.get(m.caller) ?? 0) + 1);
      return {
        snapshotId: String(horizon),
        frozen: freeze !== null,
        eligible: [...eligible.values()].reduce((sum, n) => sum + n, 0),
        capacity: memoryCapacity(eligible, policy),
        size: members.length,
        contributors: [...counts]
          .map(([caller, count]) => ({ caller, count }))
          .sort((a, b) => b.count - a.count || a.caller.localeCompare(b.caller)),
      };
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** Reads the records committed since the last look into the per-caller lists. */
  private async catchUp(): Promise<void> {
    const { candidates: fresh, last } = await this.records.memoryCandidatesAfter(
      this.key.versionId,
      this.key.setId,
      this.key.modelId,
      this.seenPosition,
    );
    this.seenPosition = last;
    for (const c of fresh) {
      this.eligible.set(c.caller, (this.eligible.get(c.caller) ?? 0) + 1);
      this.seenUpTo = c.id;
      if (!this.perCaller.has(c.caller)) this.perCaller.set(c.caller, []);
      const list = this.perCaller.get(c.caller)!;
      if (list.length === this.keep && compareCandidates(list[this.keep - 1], c) < 0) continue;
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareCandidates(list[mid], c) < 0) lo = mid + 1;
        else hi = mid;
      }
      list.splice(lo, 0, c);
      if (list.length > this.keep) list.pop();
    }
  }

  /**
   * The memory's members now: the live memory over every record read, or the memory as it was at a
   * frozen snapshot (from the database, once per snapshot: later records may have pushed its
   * members out of the per-caller lists).
   */
  private async members(freeze: MemoryFreeze) {
    await this.catchUp();
    // a frozen snapshot other than the live one (ids are not ordered: positions are), or one
    // frozen under another policy
    if (freeze !== null && (freeze.snapshotId !== this.seenUpTo || !samePolicy(freeze.policy, this.policy))) {
      const cached = this.frozen;
      if (cached?.horizon !== freeze.snapshotId || !samePolicy(cached.policy, freeze.policy)) {
        const { candidates, eligible } = await this.records.memoryCandidatesAt(
          this.key.versionId,
          this.key.setId,
          this.key.modelId,
          freeze.snapshotId,
          callerCap(freeze.policy),
        );
        this.frozen = {
          horizon: freeze.snapshotId,
          policy: freeze.policy,
          members: selectMemory(candidates, freeze.policy, eligible),
          eligible,
        };
      }
      return this.frozen!;
    }
    const candidates = [...this.perCaller.values()].flat().sort(compareCandidates);
    const members = selectMemory(candidates, this.policy, this.eligible);
    return { horizon: this.seenUpTo, members, eligible: this.eligible, policy: this.policy };
  }

  private async take(freeze: MemoryFreeze): Promise<MemorySnapshot> {
    const { horizon, members } = await this.members(freeze);
    const memberIds = new Set(members.map((m) => m.id));
    // rows of records that left the memory are free once no snapshot in flight lists them
    for (const [id, row] of this.rowOf) {
      if (!memberIds.has(id) && !this.references.has(row)) {
        this.rowOf.delete(id);
        this.freeRows.push(row);
      }
    }
    const entering = members.filter((m) => !this.rowOf.has(m.id)).map((m) => m.id);
    if (entering.length > 0) {
      const vectors = await this.records.embeddings(entering);
      if (this.freeRows.length < entering.length) this.grow(entering.length);
      for (const id of entering) {
        const row = this.freeRows.pop()!;
        this.arena.set(vectors.get(id)!, row * this.key.dim);
        this.rowOf.set(id, row);
      }
    }
    const rows = Int32Array.from(members, (m) => this.rowOf.get(m.id)!);
    for (const row of rows) this.references.set(row, (this.references.get(row) ?? 0) + 1);
    let released = false;
    return {
      snapshotId: String(horizon),
      size: members.length,
      rows: { arena: this.arena.buffer as SharedArrayBuffer, rows },
      release: () => {
        if (released) return;
        released = true;
        for (const row of rows) {
          const left = this.references.get(row)! - 1;
          if (left === 0) this.references.delete(row);
          else this.references.set(row, left);
        }
      },
    };
  }

  private allocate(rows: number): Float32Array {
    const arena = new Float32Array(new SharedArrayBuffer(rows * this.key.dim * 4));
    for (let r = rows - 1; r >= 0; r--) this.freeRows.push(r);
    return arena;
  }

  /**
   * A larger arena with the same rows at the same places; snapshots in flight keep the old buffer,
   * whose rows are never written again.
   */
  private grow(needed: number): void {
    const oldRows = this.arena.length / this.key.dim;
    const rows = Math.max(oldRows * 2, oldRows + needed);
    const arena = new Float32Array(new SharedArrayBuffer(rows * this.key.dim * 4));
    arena.set(this.arena);
    for (let r = rows - 1; r >= oldRows; r--) this.freeRows.push(r);
    this.arena = arena;
  }
}

export class AdaptiveMemories {
  private readonly memories = new LruCache<string, KeyMemory>(MEMORIES);

  constructor(
    private readonly records: ScoringRecordRepository,
    readonly policy: MemoryPolicy,
  ) {}

  private memory(key: MemoryKey): KeyMemory {
    const id = `${key.versionId}:${key.setId}:${key.modelId}`;
    let memory = this.memories.get(id);
    if (!memory) {
      memory = new KeyMemory(key, this.records, this.policy);
      this.memories.set(id, memory);
    }
    return memory;
  }

  /** The memory a request scores against: records committed before now (or up to the frozen snapshot). */
  snapshot(key: MemoryKey, freeze: MemoryFreeze): Promise<MemorySnapshot> {
    return this.memory(key).snapshot(freeze);
  }

  describe(key: MemoryKey, freeze: MemoryFreeze): Promise<MemoryDescription> {
    return this.memory(key).describe(freeze);
  }
}
