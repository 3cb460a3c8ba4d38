/**
 * Similarity matrices through ONNX Runtime: C = A · Bᵀ with a one-node Gemm graph
 * (graphs/matmul.onnx, made by tools/make-matmul-graph.py). ORT's kernels are an order of
 * magnitude faster than JavaScript loops. Runs on whatever thread calls it: use it in a worker.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const GRAPH = readFileSync(new URL('./graphs/matmul.onnx', import.meta.url));

export class SimilarityKernel {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(threads: number): Promise<SimilarityKernel> {
    return new SimilarityKernel(await ort.InferenceSession.create(GRAPH, { intraOpNumThreads: threads, interOpNumThreads: 1 }));
  }

  /** Row-major [n, k] = a [n, d] · b [k, d]ᵀ. */
  async multiply(a: Float32Array, b: Float32Array, dim: number): Promise<Float32Array> {
    const n = a.length / dim;
    const k = b.length / dim;
    const result = await this.session.run({ a: new ort.Tensor('float32', a, [n, dim]), b: new ort.Tensor('float32', b, [k, dim]) });
    return result.c.data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
