/**
 * The fixed stream protocol adaptive scoring is measured with (../shared/docs/beyond-neglabel.md):
 * each split's ID and OOD concepts are cut into two seeded halves; the memory is warmed on a
 * stream of the first half, then the second half is scored in a seeded order, each image against
 * the memory of everything before it (as the service's history would hold it), at a fixed ID:OOD
 * ratio. Static and adaptive rows score the same test images. The memory rule and the penalty are
 * the service's own (src/neglabel/memory.ts).
 */
import { stack } from '../../src/inference/vectors.ts';
import {
  compareCandidates,
  type MemoryCandidate,
  type MemoryPolicy,
  memoryPenalty,
  selectMemory,
} from '../../src/neglabel/memory.ts';
import { mulberry32 } from '../../src/neglabel/random.ts';

/** ID:OOD ratios of the streams: 1:1 and 1:4. */
export const STREAM_RATIOS = [1, 4] as const;

/** One stream of one split: which ID and OOD image indices warm the memory and which are tested, in order. */
export interface StreamPlan {
  ratio: number;
  warm: Array<{ ood: boolean; index: number }>;
  test: Array<{ ood: boolean; index: number }>;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Seeded halves and orders for `idCount` ID and `oodCount` OOD images at ID:OOD = 1:`ratio`: each
 * half keeps `a` ID and `ratio`·`a` OOD images, `a` as large as the half allows.
 */
export function planStream(idCount: number, oodCount: number, ratio: number, seed: number): StreamPlan {
  const random = mulberry32(seed);
  const ids = shuffled(
    Array.from({ length: idCount }, (_, i) => i),
    random,
  );
  const oods = shuffled(
    Array.from({ length: oodCount }, (_, i) => i),
    random,
  );
  const half = (list: number[], first: boolean) =>
    first ? list.slice(0, Math.floor(list.length / 2)) : list.slice(Math.floor(list.length / 2));
  const stream = (first: boolean) => {
    const id = half(ids, first);
    const ood = half(oods, first);
    const a = Math.min(id.length, Math.floor(ood.length / ratio));
    return shuffled(
      [
        ...id.slice(0, a).map((index) => ({ ood: false, index })),
        ...ood.slice(0, ratio * a).map((index) => ({ ood: true, index })),
      ],
      random,
    );
  };
  return { ratio, warm: stream(true), test: stream(false) };
}

/**
 * Static and adaptive scores of a plan's test images: every image of the stream, warm-up first,
 * joins the history after it is scored; each test image meets the memory of the history before it.
 * Returns the size of the memory the last test image met.
 */
export function runStream(
  plan: StreamPlan,
  embeddings: { id: Float32Array[]; ood: Float32Array[] },
  staticScore: (embedding: Float32Array) => number,
  policy: MemoryPolicy,
): { staticScores: number[]; adaptiveScores: number[]; memorySize: number } {
  const items = [...plan.warm, ...plan.test];
  const vectors = items.map((item) => (item.ood ? embeddings.ood : embeddings.id)[item.index]);
  const dim = vectors[0]?.length ?? 0;
  const arena = stack(vectors, dim);
  const scores = vectors.map(staticScore);
  const history: MemoryCandidate[] = [];
  const staticScores: number[] = [];
  const adaptiveScores: number[] = [];
  let memorySize = 0;
  items.forEach((_, position) => {
    if (position >= plan.warm.length) {
      const members = selectMemory(history, policy);
      memorySize = members.length;
      const rows = Int32Array.from(members, (m) => m.id);
      const penalty = memoryPenalty(vectors[position], arena, rows, dim);
      staticScores.push(scores[position]);
      adaptiveScores.push(scores[position] - penalty);
    }
    const entry = { id: position, score: scores[position], caller: 'stream' };
    let at = history.findIndex((h) => compareCandidates(h, entry) > 0);
    if (at < 0) at = history.length;
    history.splice(at, 0, entry);
  });
  return { staticScores, adaptiveScores, memorySize };
}

/** The test images' OOD flags of a plan, in order (the labels the metrics need). */
export function testLabels(plan: StreamPlan): boolean[] {
  return plan.test.map((t) => t.ood);
}
