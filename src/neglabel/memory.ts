/**
 * Adaptive scoring from a memory of past OOD-like images (OODD, CVPR 2025; ../shared/docs/
 * beyond-neglabel.md): an image's adaptive score is S(x) - c5(x), c5 the 5th-largest cosine
 * between x and the memory. The memory is a pure function of the history up to a snapshot: each
 * caller's lowest-scoring records, as many as its quota. A caller's quota comes from its own
 * records alone (at most `maxFraction` of them, and at most `maxCallerShare` of `maxSize`), so
 * what one key sends changes no other key's members: a flood raises only the flooder's own quota,
 * up to its cap. Only when the quotas add up to more than `maxSize` are they cut, all to one
 * common level (the largest that fits), so one key can take at most its cap from the others.
 */

export interface MemoryPolicy {
  /** at most this many records (OODD's queue: 2,048) */
  maxSize: number;
  /** at most this share of each caller's eligible records */
  maxFraction: number;
  /** no caller holds more than this share of maxSize */
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

/** Eligible records per caller, counted from a list of them. */
export function countByCaller(candidates: readonly MemoryCandidate[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of candidates) counts.set(c.caller, (counts.get(c.caller) ?? 0) + 1);
  return counts;
}

/** The most records one caller may hold. */
export function callerCap(policy: MemoryPolicy): number {
  return Math.max(1, Math.floor(policy.maxCallerShare * policy.maxSize));
}

/**
 * Each caller's quota: min(cap, ⌊maxFraction · its eligible records⌋); when the quotas add up to
 * more than maxSize, each is cut to the largest common level λ with Σ min(quota, λ) ≤ maxSize.
 */
export function memoryQuotas(eligibleByCaller: ReadonlyMap<string, number>, policy: MemoryPolicy): Map<string, number> {
  const cap = callerCap(policy);
  const wanted = new Map(
    [...eligibleByCaller].map(([caller, eligible]) => [
      caller,
      Math.min(cap, Math.floor(policy.maxFraction * eligible)),
    ]),
  );
  const filled = (level: number) => [...wanted.values()].reduce((sum, q) => sum + Math.min(q, level), 0);
  if (filled(cap) <= policy.maxSize) return wanted;
  let low = 0;
  let high = cap;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (filled(mid) <= policy.maxSize) low = mid;
    else high = mid - 1;
  }
  return new Map([...wanted].map(([caller, q]) => [caller, Math.min(q, low)]));
}

/** How many records a memory over these eligible records holds at most. */
export function memoryCapacity(eligibleByCaller: ReadonlyMap<string, number>, policy: MemoryPolicy): number {
  return [...memoryQuotas(eligibleByCaller, policy).values()].reduce((sum, q) => sum + q, 0);
}

/**
 * The memory over the records of a snapshot: from `sorted` (ascending by compareCandidates), each
 * caller's lowest, up to its quota. `eligibleByCaller` counts the snapshot's records per caller when
 * `sorted` holds only some of them (each caller's lowest, which is all the memory can take); by
 * default they are counted from `sorted`.
 */
export function selectMemory(
  sorted: readonly MemoryCandidate[],
  policy: MemoryPolicy,
  eligibleByCaller: ReadonlyMap<string, number> = countByCaller(sorted),
): MemoryCandidate[] {
  const quotas = memoryQuotas(eligibleByCaller, policy);
  const taken = new Map<string, number>();
  const members: MemoryCandidate[] = [];
  for (const c of sorted) {
    const count = taken.get(c.caller) ?? 0;
    if (count >= (quotas.get(c.caller) ?? 0)) continue;
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
