/** Cache of corpus prompt embeddings per model: a corpus is encoded once per model, ever. */
import type pg from 'pg';
import { parseVector, toVectorLiteral } from './vectors.ts';

/**
 * Rows per statement. Small on purpose: the embedded database runs one statement at a time for
 * every connection, so a 4,096-vector statement (megabytes of vector text) would hold up every
 * request behind it, and building its text would hold up the event loop.
 */
const FIND_CHUNK = 1000;
const SAVE_CHUNK = 512;

export class CorpusEmbeddingRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** The stored embeddings among `prompts` for a model. */
  async find(modelId: string, prompts: readonly string[]): Promise<Map<string, Float32Array>> {
    const found = new Map<string, Float32Array>();
    for (let i = 0; i < prompts.length; i += FIND_CHUNK) {
      const { rows } = await this.pool.query<{ prompt: string; embedding: string }>(
        'SELECT prompt, embedding::text AS embedding FROM corpus_embeddings WHERE model_id = $1 AND prompt = ' +
          'ANY($2::text[])',
        [modelId, prompts.slice(i, i + FIND_CHUNK)],
      );
      for (const row of rows) found.set(row.prompt, parseVector(row.embedding));
    }
    return found;
  }

  /** Idempotent (a cache): a save cut short by a crash is completed by the next one. */
  async save(modelId: string, prompts: readonly string[], embeddings: readonly Float32Array[]): Promise<void> {
    for (let i = 0; i < prompts.length; i += SAVE_CHUNK) {
      await this.pool.query(
        `INSERT INTO corpus_embeddings (model_id, prompt, embedding)
         SELECT $1, p, e::vector FROM unnest($2::text[], $3::text[]) AS t(p, e) ON CONFLICT DO NOTHING`,
        [modelId, prompts.slice(i, i + SAVE_CHUNK), embeddings.slice(i, i + SAVE_CHUNK).map(toVectorLiteral)],
      );
    }
  }
}
