/** Cache of corpus prompt embeddings per model: a corpus is encoded once per model, ever. */
import type pg from 'pg';
import { parseVector, toVectorLiteral } from './vectors.ts';

export class CorpusEmbeddingRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** The stored embeddings among `prompts` for a model. */
  async find(modelId: string, prompts: readonly string[]): Promise<Map<string, Float32Array>> {
    const found = new Map<string, Float32Array>();
    const chunk = 5000;
    for (let i = 0; i < prompts.length; i += chunk) {
      const { rows } = await this.pool.query<{ prompt: string; embedding: string }>(
        'SELECT prompt, embedding::text AS embedding FROM corpus_embeddings WHERE model_id = $1 AND prompt = ANY($2::text[])',
        [modelId, prompts.slice(i, i + chunk)],
      );
      for (const row of rows) found.set(row.prompt, parseVector(row.embedding));
    }
    return found;
  }

  async save(modelId: string, prompts: readonly string[], embeddings: readonly Float32Array[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO corpus_embeddings (model_id, prompt, embedding)
       SELECT $1, p, e::vector FROM unnest($2::text[], $3::text[]) AS t(p, e) ON CONFLICT DO NOTHING`,
      [modelId, prompts, embeddings.map(toVectorLiteral)],
    );
  }
}
