/** Small vector helpers shared by the encoders. */

/**
 * L2-normalizes each row of a row-major [n, dim] matrix in place and returns it; `norms`, when
 * given, receives each row's norm before normalization.
 */
export function l2NormalizeRows(data: Float32Array, dim: number, norms?: Float32Array): Float32Array {
  for (let offset = 0; offset < data.length; offset += dim) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += data[offset + i] * data[offset + i];
    if (norms) norms[offset / dim] = Math.sqrt(sum);
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = 0; i < dim; i++) data[offset + i] *= scale;
  }
  return data;
}

/** Splits a row-major [n, dim] matrix into row views. */
export function rows(data: Float32Array, dim: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let offset = 0; offset < data.length; offset += dim) out.push(data.subarray(offset, offset + dim));
  return out;
}

/** Concatenates equal-width vectors into one row-major matrix. */
export function stack(vectors: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => {
    out.set(v, i * dim);
  });
  return out;
}
