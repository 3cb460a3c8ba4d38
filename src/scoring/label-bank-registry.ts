/**
 * The worker side of the scoring runtime: the label banks an encoder worker holds, and NegLabel
 * scoring of image embeddings against them. Banks live in the workers (one copy per worker) so the
 * matrix product against ~11k labels runs where the compute is, off the request thread; the
 * NegLabel math itself is src/neglabel/scoring.ts.
 */
import { DomainError } from '../errors.ts';
import { SimilarityKernel } from '../inference/similarity-kernel.ts';
import type { MemoryRows } from '../inference/protocol.ts';
import { memoryPenalty } from '../neglabel/memory.ts';
import { scoreFromSimilarities, type ImageScoreResult, type LabelBank } from '../neglabel/scoring.ts';

export class LabelBankRegistry {
  /** ID and negative embeddings side by side, transposed, for one matrix product per batch */
  private readonly banks = new Map<string, { bank: LabelBank; labels: Float32Array }>();
  private kernel: Promise<SimilarityKernel> | undefined;

  register(key: string, bank: LabelBank): void {
    const labels = new Float32Array(bank.idEmbeddings.length + bank.negativeEmbeddings.length);
    labels.set(bank.idEmbeddings);
    labels.set(bank.negativeEmbeddings, bank.idEmbeddings.length);
    this.banks.set(key, { bank, labels: SimilarityKernel.transpose(labels, bank.dim) });
  }

  drop(key: string): void {
    this.banks.delete(key);
  }

  get size(): number {
    return this.banks.size;
  }

  /**
   * NegLabel results for row-major [n, dim] image embeddings; with a memory, each image's adaptive
   * penalty c5 too.
   */
  async score(
    key: string,
    images: Float32Array,
    topK: number,
    memory?: MemoryRows,
  ): Promise<{ results: ImageScoreResult[]; penalties: number[] | null }> {
    const entry = this.banks.get(key);
    if (!entry) throw new DomainError('BANK_NOT_LOADED', `label bank ${key} is not loaded in this worker`);
    const { bank, labels } = entry;
    this.kernel ??= SimilarityKernel.create(1);
    const sims = await (await this.kernel).multiply(images, labels, bank.dim);
    const idCount = bank.idEmbeddings.length / bank.dim;
    const width = labels.length / bank.dim;
    const results: ImageScoreResult[] = [];
    for (let i = 0; i < images.length / bank.dim; i++) {
      results.push(
        scoreFromSimilarities(
          bank,
          sims.subarray(i * width, i * width + idCount),
          sims.subarray(i * width + idCount, (i + 1) * width),
          topK,
        ),
      );
    }
    if (!memory) return { results, penalties: null };
    const arena = new Float32Array(memory.arena);
    const penalties = results.map((_, i) =>
      memoryPenalty(images.subarray(i * bank.dim, (i + 1) * bank.dim), arena, memory.rows, bank.dim),
    );
    return { results, penalties };
  }
}
