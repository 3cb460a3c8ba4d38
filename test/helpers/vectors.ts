/** Small factories for deterministic test vectors. */
import { mulberry32 } from '../../src/neglabel/grouping.ts';

/** `count` random unit vectors of width `dim`, row-major, from a seed. */
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

/** Unit vector in the plane of axes 0 and 1 at `cosine` to axis 0 (dim ≥ 2). */
export function atCosine(cosine: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  v[0] = cosine;
  v[1] = Math.sqrt(Math.max(0, 1 - cosine * cosine));
  return v;
}
