/**
 * Negative label sets. A set becomes visible only whole: it is written, activated for its taxonomy
 * version and its job marked done in one transaction, so a crash leaves either nothing or all.
 */
import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { column, columnList, unnestRows, withTransaction } from './sql.ts';
import { vectorFromBytes, vectorTypeOid } from './vectors.ts';

export interface NewNegativeLabel {
  word: string;
  prompt: string;
  partOfSpeech: 'noun' | 'adjective';
  quantileSimilarity: number;
  maxSimilarity: number;
  group: number;
  embedding: Float32Array;
}

type RankedLabel = NewNegativeLabel & { rank: number };
const LABEL_COLUMNS = {
  rank: column('int', (l: RankedLabel) => l.rank),
  word: column('text', (l: RankedLabel) => l.word),
  prompt: column('text', (l: RankedLabel) => l.prompt),
  part_of_speech: column('text', (l: RankedLabel) => l.partOfSpeech),
  quantile_similarity: column('real', (l: RankedLabel) => l.quantileSimilarity),
  max_similarity: column('real', (l: RankedLabel) => l.maxSimilarity),
  group_index: column('int', (l: RankedLabel) => l.group),
  embedding: column('vector', (l: RankedLabel) => l.embedding),
};

/** Which of a set's negatives a page lists (null: any). */
export interface LabelFilter {
  group: number | null;
  partOfSpeech: 'noun' | 'adjective' | null;
  /** a substring of the word, matched case-insensitively */
  search: string | null;
}

export type LabelOrder = 'RANK' | 'WORD' | 'MAX_SIMILARITY' | 'QUANTILE_SIMILARITY';

/** Each order's key (null: rank alone) and direction; ties always go by rank. */
const LABEL_ORDERS: Record<LabelOrder, { key: string | null; direction: 'ASC' | 'DESC' }> = {
  RANK: { key: null, direction: 'ASC' },
  // byte order, so a page's order is the same on every server whatever its collation
  WORD: { key: 'lower(l.word) COLLATE "C"', direction: 'ASC' },
  MAX_SIMILARITY: { key: 'l.max_similarity', direction: 'DESC' },
  QUANTILE_SIMILARITY: { key: 'l.quantile_similarity', direction: 'DESC' },
};

interface LabelRow {
  rank: number;
  word: string;
  prompt: string;
  part_of_speech: 'noun' | 'adjective';
  quantile_similarity: number;
  max_similarity: number;
  group_index: number;
}

export interface NewNegativeSet {
  taxonomyVersionId: string;
  modelId: string;
  parameters: object;
  parametersKey: string;
  groupCount: number;
  candidateCount: number;
  excludedCount: number;
  /** row-major ID-label embeddings the set was mined with and scores with (CSP), or null: the version's */
  idLabelEmbeddings: Float32Array | null;
  labels: NewNegativeLabel[];
}

export interface StoredBank {
  /** the negative labels, as mined (WordNet lemmas or custom-corpus words) */
  words: string[];
  /** the texts that were encoded for them (each word in its prompt template) */
  prompts: string[];
  groups: Int32Array;
  embeddings: Float32Array[];
  /** the set's own ID-label embeddings (row-major), or null to score with the version's */
  idLabelEmbeddings: Float32Array | null;
}

/** Labels per statement: building one statement's vector text holds up the event loop (500: ~10 ms). */
const INSERT_CHUNK = 500;

/** A worker's lease on a job ended (it expired and another worker took the job over). */
export class LeaseLostError extends Error {
  constructor(jobId: string) {
    super(`mining job ${jobId} is no longer leased to this worker`);
  }
}

export class NegativeSetRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  find(id: string) {
    return this.prisma.negativeLabelSet.findUnique({ where: { id } });
  }

  /** The newest set mined with these exact parameters for the version, if any. */
  findReusable(taxonomyVersionId: string, parametersKey: string) {
    return this.prisma.negativeLabelSet.findFirst({
      where: { taxonomyVersionId, parametersKey },
      orderBy: { createdAt: 'desc' },
    });
  }

  async activate(taxonomyVersionId: string, setId: string): Promise<void> {
    await this.prisma.taxonomyVersion.update({
      where: { id: taxonomyVersionId },
      data: { activeNegativeSetId: setId },
    });
  }

  /**
   * Writes the set and its labels, activates it and completes the job, atomically — and only if
   * `worker` still holds the job's lease (else nothing is written: the job is someone else's now).
   */
  async saveActivateAndComplete(set: NewNegativeSet, jobId: string, worker: string): Promise<string> {
    const vectorOid = await vectorTypeOid(this.pool);
    return withTransaction(this.pool, async (client) => {
      const held = await client.query(
        `SELECT 1 FROM mining_jobs WHERE id = $1 AND leased_by = $2 AND status = 'RUNNING' FOR UPDATE`,
        [jobId, worker],
      );
      if (held.rowCount === 0) throw new LeaseLostError(jobId);
      const {
        rows: [{ id }],
      } = await client.query<{ id: string }>(
        `INSERT INTO negative_label_sets (id, taxonomy_version_id, model_id, parameters, parameters_key,
           label_count, group_count, candidate_count, excluded_count, id_label_embeddings)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [
          set.taxonomyVersionId,
          set.modelId,
          JSON.stringify(set.parameters),
          set.parametersKey,
          set.labels.length,
          set.groupCount,
          set.candidateCount,
          set.excludedCount,
          set.idLabelEmbeddings && [...set.idLabelEmbeddings],
        ],
      );
      for (let start = 0; start < set.labels.length; start += INSERT_CHUNK) {
        const chunk = set.labels.slice(start, start + INSERT_CHUNK).map((label, i) => ({ ...label, rank: start + i }));
        const labels = unnestRows(chunk, LABEL_COLUMNS, { firstParameter: 2, vectorOid });
        await client.query(
          `INSERT INTO negative_labels (set_id, ${columnList(LABEL_COLUMNS)})
           SELECT $1, ${labels.names} FROM ${labels.from}`,
          [id, ...labels.parameters],
        );
      }
      await client.query('UPDATE taxonomy_versions SET active_negative_set_id = $1 WHERE id = $2', [
        id,
        set.taxonomyVersionId,
      ]);
      await client.query(
        `UPDATE mining_jobs SET status = 'SUCCEEDED', phase = 'done', negative_set_id = $1, finished_at = now(), ` +
          `done = total, lease_expires_at = NULL WHERE id = $2`,
        [id, jobId],
      );
      return id;
    });
  }

  /**
   * A page of a set's negatives matching `filter`, in `order`, after the negative of rank
   * `afterRank` (-1: from the start). Keyset paging on (order key, rank), so a cursor is a rank
   * whatever the order, and pages neither skip nor repeat rows.
   */
  async labelsPage(setId: string, first: number, afterRank: number, filter: LabelFilter, order: LabelOrder) {
    const parameters: unknown[] = [setId];
    const where = ['l.set_id = $1'];
    if (filter.group !== null) where.push(`l.group_index = $${parameters.push(filter.group)}`);
    if (filter.partOfSpeech !== null) where.push(`l.part_of_speech = $${parameters.push(filter.partOfSpeech)}`);
    if (filter.search !== null)
      where.push(`l.word ILIKE '%' || $${parameters.push(filter.search.replace(/[\\%_]/g, '\\$&'))} || '%'`);
    const matching = where.join(' AND ');
    const filterParameters = parameters.length;
    const { key, direction } = LABEL_ORDERS[order];
    const after =
      afterRank < 0
        ? 'true'
        : key === null
          ? `l.rank > $${parameters.push(afterRank)}`
          : `(${key} ${direction === 'DESC' ? '<' : '>'} a.k OR (${key} = a.k AND l.rank > a.rank))`;
    const afterRow =
      afterRank < 0 || key === null
        ? ''
        : `CROSS JOIN (SELECT ${key.replace(/\bl\./g, 'c.')} AS k, c.rank FROM negative_labels c
             WHERE c.set_id = $1 AND c.rank = $${parameters.push(afterRank)}) a`;
    const limit = parameters.push(first + 1);
    const [{ rows }, count] = await Promise.all([
      this.pool.query<LabelRow>(
        `SELECT l.rank, l.word, l.prompt, l.part_of_speech, l.quantile_similarity, l.max_similarity, l.group_index
         FROM negative_labels l ${afterRow}
         WHERE ${matching} AND ${after}
         ORDER BY ${key === null ? '' : `${key} ${direction}, `}l.rank LIMIT $${limit}`,
        parameters,
      ),
      this.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM negative_labels l WHERE ${matching}`,
        parameters.slice(0, filterParameters),
      ),
    ]);
    return {
      rows: rows.slice(0, first).map((r) => ({
        rank: r.rank,
        word: r.word,
        prompt: r.prompt,
        partOfSpeech: r.part_of_speech,
        quantileSimilarity: r.quantile_similarity,
        maxSimilarity: r.max_similarity,
        groupIndex: r.group_index,
      })),
      hasNextPage: rows.length > first,
      totalCount: count.rows[0].n,
    };
  }

  /** Everything scoring needs from a set, in rank order. */
  async loadBank(setId: string): Promise<StoredBank> {
    const { rows } = await this.pool.query<{ word: string; prompt: string; group_index: number; embedding: Buffer }>(
      'SELECT word, prompt, group_index, vector_send(embedding) AS embedding FROM negative_labels WHERE set_id = $1 ' +
        'ORDER BY rank',
      [setId],
    );
    const {
      rows: [set],
    } = await this.pool.query<{ id_label_embeddings: number[] | null }>(
      'SELECT id_label_embeddings FROM negative_label_sets WHERE id = $1',
      [setId],
    );
    return {
      idLabelEmbeddings: set?.id_label_embeddings ? Float32Array.from(set.id_label_embeddings) : null,
      words: rows.map((r) => r.word),
      prompts: rows.map((r) => r.prompt),
      groups: Int32Array.from(rows, (r) => r.group_index),
      embeddings: rows.map((r) => vectorFromBytes(r.embedding)),
    };
  }
}
