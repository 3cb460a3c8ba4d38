/**
 * Candidate statistics in a short-lived worker thread, so mining never blocks request handling.
 * The thread (and ONNX Runtime's threads, which it starts) runs at `threadNice`: mining is
 * background work and yields the cores to requests, as the encoder threads do.
 */
import type { CandidateStatistics } from '../neglabel/mining.ts';
import { startTsWorker } from '../lib/ts-worker.ts';

export function candidateStatisticsInWorker(
  candidates: Float32Array,
  ids: Float32Array,
  dim: number,
  percentile: number,
  threadNice = 0,
  threads = 2,
): Promise<CandidateStatistics> {
  const worker = startTsWorker(new URL('./mining-math-worker.ts', import.meta.url));
  return new Promise<CandidateStatistics>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`mining worker exited with code ${code}`)));
    worker.postMessage({ candidates, ids, dim, percentile, threads, threadNice }, [
      candidates.buffer as ArrayBuffer,
      ids.buffer as ArrayBuffer,
    ]);
  }).finally(() => void worker.terminate());
}
