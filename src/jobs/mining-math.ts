/**
 * A mining job's math in a short-lived worker thread, so mining never blocks request handling:
 * the candidate statistics (N candidates × K labels) and the selection of the negative set from
 * them. The selection used to run on the request thread and held it for ~100 ms at a time with
 * WordNet's 70k candidates (CPU profile under the load test).
 * The thread (and ONNX Runtime's threads, which it starts) runs at `threadNice`: mining is
 * background work and yields the cores to requests, as the encoder threads do.
 */
import type { CorpusWord } from '../neglabel/corpus.ts';
import type { CandidateStatistics, MinedNegativeSet, NegativeSetOptions } from '../neglabel/mining.ts';
import { startTsWorker } from '../lib/ts-worker.ts';

export interface MiningMathRequest {
  /** candidate embeddings, N × dim (transferred: unusable afterwards) */
  candidates: Float32Array;
  /** ID-label embeddings, K × dim (transferred) */
  ids: Float32Array;
  dim: number;
  percentile: number;
  threadNice: number;
  threads: number;
  /** when given, the negative set is selected there too */
  selection?: { corpus: readonly CorpusWord[]; idLabels: readonly string[]; options: NegativeSetOptions };
}

export type MiningMathResult = { stats: CandidateStatistics; mined?: MinedNegativeSet } | { failed: string };

function runInWorker(request: MiningMathRequest): Promise<{ stats: CandidateStatistics; mined?: MinedNegativeSet }> {
  const worker = startTsWorker(new URL('./mining-math-worker.ts', import.meta.url));
  return new Promise<{ stats: CandidateStatistics; mined?: MinedNegativeSet }>((resolve, reject) => {
    worker.once('message', (result: MiningMathResult) =>
      'failed' in result ? reject(new Error(result.failed)) : resolve(result),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`mining worker exited with code ${code}`)));
    worker.postMessage(request, [request.candidates.buffer as ArrayBuffer, request.ids.buffer as ArrayBuffer]);
  }).finally(() => void worker.terminate());
}

/** The candidates' statistics (the inputs are transferred). */
export async function candidateStatisticsInWorker(
  candidates: Float32Array,
  ids: Float32Array,
  dim: number,
  percentile: number,
  threadNice = 0,
  threads = 2,
): Promise<CandidateStatistics> {
  return (await runInWorker({ candidates, ids, dim, percentile, threadNice, threads })).stats;
}

/** The statistics and the negative set mined from them; rejects with the selection's message. */
export async function mineInWorker(
  candidates: Float32Array,
  ids: Float32Array,
  dim: number,
  percentile: number,
  selection: NonNullable<MiningMathRequest['selection']>,
  threadNice = 0,
): Promise<{ stats: CandidateStatistics; mined: MinedNegativeSet }> {
  const { stats, mined } = await runInWorker({ candidates, ids, dim, percentile, threadNice, threads: 2, selection });
  return { stats, mined: mined! };
}
