/** Cache of corpus prompt embeddings per model: a corpus is encoded once per model, ever. */
import type pg from 'pg';
import type { TextEmbeddings } from '../inference/encoder.ts';
import type { PromptEmbedding } from '../neglabel/candidates.ts';
import { vectorArrayBytes, vectorFromBytes, vectorTypeOid } from './vectors.ts';

/** A cached prompt embedding: the unit vector and its norm before normalization (null if unknown). */
export type CachedEmbedding = PromptEmbedding;

/**
 * Rows per statement. Small on purpose: the embedded database runs one statement at a time for
 * every connection, so a 4,096-vector statement would hold up every request behind it (a mining
 * pass reads tens of thousands of vectors while requests are served).
 */
const FIND_CHUNK = 250;
const SAVE_CHUNK = 512;

export class CorpusEmbeddingRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The stored embeddings among `prompts` for a model, with their raw norms (null for rows cached
   * before norms were kept).
   */
  async find(modelId: string, prompts: readonly string[]): Promise<Map<string, CachedEmbedding>> {
    const found = new Map<string, CachedEmbedding>();
    for (let i = 0; i < prompts.length; i += FIND_CHUNK) {
      const { rows } = await this.pool.query<{ prompt: string; embedding: Buffer; norm: number | null }>(
        'SELECT prompt, vector_send(embedding) AS embedding, norm FROM corpus_embeddings WHERE model_id = $1 AND ' +
          'prompt = ANY($2::text[])',
        [modelId, prompts.slice(i, i + FIND_CHUNK)],
      );
      for (const row of rows) found.set(row.prompt, { vector: vectorFromBytes(row.embedding), norm: row.norm });
    }
    return found;
  }

  /**
   * Idempotent (a cache): a save cut short by a crash is completed by the next one; a row cached
   * without its norm gets it.
   */
  async save(modelId: string, prompts: readonly string[], embeddings: TextEmbeddings): Promise<void> {
    const vectorOid = await vectorTypeOid(this.pool);
    for (let i = 0; i < prompts.length; i += SAVE_CHUNK) {
      await this.pool.query(
        `INSERT INTO corpus_embeddings (model_id, prompt, embedding, norm)
         SELECT $1, p, e, n FROM unnest($2::text[], $3::vector[], $4::real[]) AS t(p, e, n)
         ON CONFLICT (model_id, prompt) DO UPDATE SET norm = EXCLUDED.norm WHERE corpus_embeddings.norm IS NULL`,
        [
          modelId,
          prompts.slice(i, i + SAVE_CHUNK),
          vectorArrayBytes(embeddings.vectors.slice(i, i + SAVE_CHUNK), vectorOid),
          [...embeddings.norms.subarray(i, i + SAVE_CHUNK)],
        ],
      );
    }
  }
}
