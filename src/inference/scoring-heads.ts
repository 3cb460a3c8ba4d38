/**
 * The scoring heads an encoder worker holds: label banks (ID + negative embeddings) that image
 * embeddings are scored against in the worker that computed them, so a scored image crosses to
 * the worker and back once. The matrix product against ~11k labels runs here, off the request
 * thread; the NegLabel math itself is src/neglabel/scoring.ts.
 */
import { DomainError } from '../errors.ts';
import { SimilarityKernel } from './similarity-kernel.ts';
import type { MemoryRows, ScoringHead } from './encoder.ts';
import { memoryPenalty } from '../neglabel/memory.ts';
import { scoreFromSimilarities, type ImageScoreResult, type LabelBank } from '../neglabel/scoring.ts';

export class ScoringHeads {
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
    if (!entry) throw new DomainError('HEAD_NOT_LOADED', `scoring head ${key} is not loaded in this worker`);
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

  /**
   * Each item's result against its head, for row-major [n, dim] embeddings: `itemHeads[i]` is the
   * index in `heads` of item i's head (-1: none), `usable[i]` false for an image that failed. A
   * head this worker cannot score with leaves its items null (the caller scores them on its own).
   */
  async scoreItems(
    embeddings: Float32Array,
    dim: number,
    usable: readonly boolean[],
    heads: readonly ScoringHead[],
    itemHeads: Int32Array,
  ): Promise<Array<{ result: ImageScoreResult; penalty: number | null } | null>> {
    const scores: Array<{ result: ImageScoreResult; penalty: number | null } | null> = usable.map(() => null);
    for (const [h, head] of heads.entries()) {
      const items = usable.flatMap((ok, i) => (ok && itemHeads[i] === h ? [i] : []));
      if (items.length === 0 || !this.banks.has(head.key)) continue;
      const rows = new Float32Array(items.length * dim);
      items.forEach((item, row) => {
        rows.set(embeddings.subarray(item * dim, (item + 1) * dim), row * dim);
      });
      const { results, penalties } = await this.score(head.key, rows, head.topK, head.memory);
      items.forEach((item, row) => {
        scores[item] = { result: results[row], penalty: penalties?.[row] ?? null };
      });
    }
    return scores;
  }
}
