/**
 * Runs the mining statistics (N candidates × K labels) off the main thread: similarity blocks
 * from ONNX Runtime's matrix product, then a quickselect quantile per candidate.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../lib/thread-priority.ts';
import { SimilarityKernel } from '../inference/similarity-kernel.ts';
import { statisticsOfRows, type CandidateStatistics } from '../neglabel/mining.ts';

/** Candidates per block: bounds the similarity block to BLOCK × K floats. */
const BLOCK = 4096;

parentPort!.once(
  'message',
  async (request: {
    candidates: Float32Array;
    ids: Float32Array;
    dim: number;
    percentile: number;
    threads: number;
    threadNice: number;
  }) => {
    const { candidates, ids, dim, percentile } = request;
    // before ONNX Runtime starts its threads: they inherit this thread's priority
    lowerThisThreadPriority(request.threadNice);
    const n = candidates.length / dim;
    const k = ids.length / dim;
    const kernel = await SimilarityKernel.create(request.threads);
    const idsT = SimilarityKernel.transpose(ids, dim);
    const stats: CandidateStatistics = { quantile: new Float64Array(n), max: new Float64Array(n) };
    for (let start = 0; start < n; start += BLOCK) {
      const rows = Math.min(BLOCK, n - start);
      const sims = await kernel.multiply(candidates.subarray(start * dim, (start + rows) * dim), idsT, dim);
      statisticsOfRows(sims, rows, k, percentile, stats, start);
    }
    await kernel.release();
    parentPort!.postMessage(stats, [stats.quantile.buffer as ArrayBuffer, stats.max.buffer as ArrayBuffer]);
  },
);
