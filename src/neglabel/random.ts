/** Seeded randomness: the grouping permutation, bootstrap resampling and reproducible test and benchmark data. */

/** mulberry32: a small, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` random unit vectors of width `dim`, row-major, from a seed (for tests and benchmarks). */
export function randomUnitVectors(count: number, dim: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const v = random() * 2 - 1;
      out[r * dim + d] = v;
      norm += v * v;
    }
    for (let d = 0; d < dim; d++) out[r * dim + d] /= Math.sqrt(norm);
  }
  return out;
}
