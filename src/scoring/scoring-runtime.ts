/**
 * The scoring runtime: where NegLabel scores are computed. The scoring service asks it to keep a
 * taxonomy version's label bank (ID + negative embeddings) and to score image embeddings against
 * it. This implementation keeps the banks in the encoder worker threads (label-bank-registry.ts),
 * beside the encoders; a GPU or remote runtime would implement the same interface.
 */
import type { EncoderWorkerPool } from '../inference/worker-pool.ts';
import { stack } from '../inference/vectors.ts';
import type { MemoryRows, WorkerResult } from '../inference/protocol.ts';
import type { ImageScoreResult, LabelBank } from '../neglabel/scoring.ts';

export interface ScoringRuntime {
  /** Keeps a bank under `key` until `dropBank`. */
  loadBank(key: string, bank: LabelBank): Promise<void>;
  dropBank(key: string): void;
  /**
   * NegLabel results for L2-normalized image embeddings, in order; with a memory, each image's
   * adaptive penalty c5 against it too.
   */
  score(
    key: string,
    images: Float32Array[],
    topK: number,
    memory?: MemoryRows,
  ): Promise<{ results: ImageScoreResult[]; penalties: number[] | null }>;
}

export class WorkerScoringRuntime implements ScoringRuntime {
  constructor(private readonly workers: EncoderWorkerPool) {}

  loadBank(key: string, bank: LabelBank): Promise<void> {
    return this.workers.registerBank(key, bank);
  }

  dropBank(key: string): void {
    this.workers.dropBank(key);
  }

  /** How many banks each worker holds (what bounds their memory). */
  banksPerWorker(): Promise<number[]> {
    return this.workers.bankCounts();
  }

  async score(
    key: string,
    images: Float32Array[],
    topK: number,
    memory?: MemoryRows,
  ): Promise<{ results: ImageScoreResult[]; penalties: number[] | null }> {
    if (images.length === 0) return { results: [], penalties: memory ? [] : null };
    const { results, penalties } = (await this.workers.run({
      kind: 'score',
      key,
      images: stack(images, images[0].length),
      topK,
      memory,
    })) as Extract<WorkerResult, { kind: 'score' }>;
    return { results, penalties };
  }
}
