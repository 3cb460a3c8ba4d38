/**
 * Similarity matrices through ONNX Runtime: C = A · B with a one-node MatMul graph
 * (graphs/matmul.onnx, made by tools/make-matmul-graph.py). ORT's kernels are an order of
 * magnitude faster than JavaScript loops. B is the label side, transposed once with `transpose`
 * and reused for every call. Runs on whatever thread calls it: use it in a worker.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const GRAPH = readFileSync(new URL('./graphs/matmul.onnx', import.meta.url));

export class SimilarityKernel {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(threads: number): Promise<SimilarityKernel> {
    return new SimilarityKernel(
      await ort.InferenceSession.create(GRAPH, { intraOpNumThreads: threads, interOpNumThreads: 1 }),
    );
  }

  /** Row-major [n, k] = a [n, d] · bT [d, k] (bT from `transpose`). */
  async multiply(a: Float32Array, bT: Float32Array, dim: number): Promise<Float32Array> {
    const n = a.length / dim;
    const k = bT.length / dim;
    const result = await this.session.run({
      a: new ort.Tensor('float32', a, [n, dim]),
      b: new ort.Tensor('float32', bT, [dim, k]),
    });
    return result.c.data as Float32Array;
  }

  /** [k, d] row-major → [d, k] row-major. */
  static transpose(b: Float32Array, dim: number): Float32Array {
    const k = b.length / dim;
    const out = new Float32Array(b.length);
    for (let i = 0; i < k; i++) for (let d = 0; d < dim; d++) out[d * k + i] = b[i * dim + d];
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
