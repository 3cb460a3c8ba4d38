/**
 * Grouping of negatives (NegLabel's grouping strategy), reproducible: a seeded mulberry32
 * generator drives a Fisher–Yates shuffle. As in the reference, the last (M mod n_g) negatives
 * are dropped before shuffling so that every group has M div n_g members. Each negative's group is
 * stored with the set, so any score can be recomputed later.
 */
import { mulberry32 } from './random.ts';

/**
 * Group of each of the first `kept` negatives (kept = M − M mod groups): group[i] for negative i.
 * Group g holds the negatives at positions [g·size, (g+1)·size) of the seeded permutation.
 */
export function assignGroups(count: number, groups: number, seed: number): { kept: number; group: Int32Array } {
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError('groups must be a positive integer');
  if (groups > count) throw new RangeError(`groups (${groups}) exceeds the number of negatives (${count})`);
  const size = Math.floor(count / groups);
  const kept = size * groups;
  const permutation = Int32Array.from({ length: kept }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = kept - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = permutation[i];
    permutation[i] = permutation[j];
    permutation[j] = t;
  }
  const group = new Int32Array(kept);
  for (let position = 0; position < kept; position++) group[permutation[position]] = Math.floor(position / size);
  return { kept, group };
}
