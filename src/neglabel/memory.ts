/**
 * Adaptive scoring from a memory of past OOD-like images (OODD, CVPR 2025; ../shared/docs/
 * beyond-neglabel.md): an image's adaptive score is S(x) - c5(x), c5 the 5th-largest cosine
 * between x and the memory. The memory is a pure function of the history up to a snapshot: the
 * lowest-scoring records, at most `maxSize` of them and at most `maxFraction` of the eligible
 * history (a memory holding a large share of the history holds ID images too), with no caller
 * contributing more than `maxCallerShare` of it (a flood of chosen images cannot take it over).
 */

export interface MemoryPolicy {
  /** at most this many records (OODD's queue: 2,048) */
  maxSize: number;
  /** at most this share of the eligible records */
  maxFraction: number;
  /** no caller contributes more than this share of the memory's capacity */
  maxCallerShare: number;
}

export const DEFAULT_MEMORY_POLICY: MemoryPolicy = { maxSize: 2048, maxFraction: 0.1, maxCallerShare: 0.25 };

/** The cosine rank the penalty reads: c5, the 5th largest. */
export const PENALTY_RANK = 5;

/** A scored record the memory may draw from. */
export interface MemoryCandidate {
  id: number;
  score: number;
  caller: string;
}

/** Orders candidates as the memory ranks them: lowest static score first, then by id. */
export function compareCandidates(a: MemoryCandidate, b: MemoryCandidate): number {
  return a.score - b.score || a.id - b.id;
}

/** How many records a memory over `eligible` records holds at most. */
export function memoryCapacity(eligible: number, policy: MemoryPolicy): number {
  return Math.min(policy.maxSize, Math.floor(policy.maxFraction * eligible));
}

/**
 * The memory over the records of a snapshot: from `sorted` (the snapshot's records, ascending by
 * compareCandidates), lowest first, skipping a caller once it holds its share, up to the capacity.
 * `eligible` is the number of records at the snapshot when `sorted` holds only some of them (each
 * caller's lowest, which is all the memory can take); by default it is `sorted.length`.
 */
export function selectMemory(
  sorted: readonly MemoryCandidate[],
  policy: MemoryPolicy,
  eligible = sorted.length,
): MemoryCandidate[] {
  const capacity = memoryCapacity(eligible, policy);
  const perCaller = Math.max(1, Math.floor(policy.maxCallerShare * capacity));
  const taken = new Map<string, number>();
  const members: MemoryCandidate[] = [];
  for (const c of sorted) {
    if (members.length >= capacity) break;
    const count = taken.get(c.caller) ?? 0;
    if (count >= perCaller) continue;
    taken.set(c.caller, count + 1);
    members.push(c);
  }
  return members;
}

/**
 * c5 of one unit image embedding against memory rows of a row-major arena (rows listed by index):
 * the 5th-largest cosine, or 0 when the memory has fewer than 5 members.
 */
export function memoryPenalty(image: Float32Array, arena: Float32Array, rows: Int32Array, dim: number): number {
  if (rows.length < PENALTY_RANK) return 0;
  // the PENALTY_RANK largest so far, descending
  const top = new Float64Array(PENALTY_RANK).fill(-Infinity);
  for (let r = 0; r < rows.length; r++) {
    const offset = rows[r] * dim;
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += image[d] * arena[offset + d];
    if (dot <= top[PENALTY_RANK - 1]) continue;
    let i = PENALTY_RANK - 1;
    while (i > 0 && top[i - 1] < dot) {
      top[i] = top[i - 1];
      i--;
    }
    top[i] = dot;
  }
  return top[PENALTY_RANK - 1];
}
