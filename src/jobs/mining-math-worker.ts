/** Runs the mining statistics (N candidates × K labels) off the main thread. */
import { parentPort } from 'node:worker_threads';
import { candidateStatistics } from '../neglabel/mining.ts';

parentPort!.once('message', (request: { candidates: Float32Array; ids: Float32Array; dim: number; percentile: number }) => {
  const stats = candidateStatistics(request.candidates, request.ids, request.dim, request.percentile);
  parentPort!.postMessage(stats, [stats.quantile.buffer as ArrayBuffer, stats.max.buffer as ArrayBuffer]);
});
