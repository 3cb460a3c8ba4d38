/**
 * Runs a mining job's math off the main thread (mining-math.ts): similarity blocks from ONNX
 * Runtime's matrix product, a quickselect quantile per candidate, then NegLabel's selection.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../lib/thread-priority.ts';
import { SimilarityKernel } from '../inference/similarity-kernel.ts';
import { mineNegativeSet, statisticsOfRows, type CandidateStatistics } from '../neglabel/mining.ts';
import type { MiningMathRequest, MiningMathResult } from './mining-math.ts';

/** Candidates per block: bounds the similarity block to BLOCK × K floats. */
const BLOCK = 4096;

parentPort!.once('message', async (request: MiningMathRequest) => {
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
  let result: MiningMathResult = { stats };
  const { selection } = request;
  try {
    if (selection)
      result = { stats, mined: mineNegativeSet(selection.corpus, stats, selection.idLabels, selection.options) };
  } catch (error) {
    result = { failed: (error as Error).message };
  }
  parentPort!.postMessage(result);
});
