/**
 * The append-only scoring history (a trigger refuses UPDATE/DELETE). A batch of records is written
 * in one transaction: a request either leaves all its records or none. The history's order is the
 * position (writer_xid, id), and readers that page or follow it see only what is below the
 * horizon, so nothing can later commit behind what they read (history-position.ts). Similarity
 * search uses a per-model HNSW index on the embedding cast to the model's width.
 */
import type pg from 'pg';
import type { DdlSession } from '../database/database.ts';
import type { MemoryCandidate } from '../neglabel/memory.ts';
import type { ImageFailure, NewScoringRecord, ScoringFilter, ScoringRecordRow } from '../domain/scoring-record.ts';
import { vectorBytes, vectorFromBytes, vectorTypeOid } from './vectors.ts';
import { HORIZON, parsePosition } from './history-position.ts';
import { column, columnList, unnestRows, withTransaction } from './sql.ts';

const COLUMNS = `r.id::text AS id, r.writer_xid::text AS writer_xid, r.created_at, r.caller, r.taxonomy_id,
  r.taxonomy_version_id,
  v.version AS taxonomy_version, r.negative_set_id, r.model_id, r.threshold, r.threshold_space,
  r.requested_threshold, r.requested_threshold_space, r.requested_is_ood, r.image_hash, r.filename,
  r.score, r.logit_score, r.is_ood, r.predicted_label, r.top_labels, r.top_negatives, r.latency_ms,
  r.adaptive_score, r.memory_snapshot_id::text AS memory_snapshot_id, r.memory_size, r.source_url,
  (SELECT encode(t.image, 'base64') FROM scoring_thumbnails t JOIN taxonomies x ON x.id = r.taxonomy_id
    WHERE t.record_id = r.id AND t.created_at > now() - x.thumbnail_retention_days * interval '1 day') AS thumbnail`;

function toRow(r: any): ScoringRecordRow {
  return {
    id: r.id,
    position: `${r.writer_xid}:${r.id}`,
    createdAt: r.created_at,
    caller: r.caller,
    taxonomyId: r.taxonomy_id,
    taxonomyVersionId: r.taxonomy_version_id,
    taxonomyVersion: r.taxonomy_version,
    negativeSetId: r.negative_set_id,
    modelId: r.model_id,
    threshold: r.threshold,
    thresholdSpace: r.threshold_space,
    requested:
      r.requested_threshold === null
        ? null
        : { threshold: r.requested_threshold, thresholdSpace: r.requested_threshold_space, isOod: r.requested_is_ood },
    imageHash: r.image_hash,
    filename: r.filename,
    sourceUrl: r.source_url,
    thumbnail: r.thumbnail === null ? null : `data:image/webp;base64,${r.thumbnail}`,
    score: r.score,
    logitScore: r.logit_score,
    isOod: r.is_ood,
    predictedLabel: r.predicted_label,
    topLabels: r.top_labels,
    topNegatives: r.top_negatives,
    latencyMs: r.latency_ms,
    adaptive:
      r.adaptive_score === null
        ? null
        : {
            adaptiveScore: r.adaptive_score,
            memorySnapshotId: r.memory_snapshot_id,
            memorySize: r.memory_size,
          },
  };
}

/**
 * WHERE clause and parameters for a filter, parameters numbered from `offset + 1`. `source` 'd'
 * reads the daily rollup (which has no per-record score or decision: callers only use it
 * without those filters).
 */
function where(filter: ScoringFilter, offset = 0, source: 'r' | 'd' = 'r'): { sql: string; params: unknown[] } {
  const time = source === 'r' ? 'r.created_at' : 'd.day';
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    conditions.push(sql.replace('?', `$${offset + params.length}`));
  };
  if (filter.taxonomyId) add(`${source}.taxonomy_id = ?::uuid`, filter.taxonomyId);
  if (filter.version != null) add('v.version = ?', filter.version);
  if (filter.decision) add('r.is_ood = ?', filter.decision === 'OOD');
  if (filter.minScore != null) add('r.score >= ?', filter.minScore);
  if (filter.maxScore != null) add('r.score <= ?', filter.maxScore);
  if (filter.from) add(`${time} >= ?`, filter.from);
  if (filter.to) add(`${time} < ?`, filter.to);
  if (filter.caller) add(`${source}.caller = ?`, filter.caller);
  if (filter.model) add(`${source}.model_id = ?`, filter.model);
  return { sql: conditions.length ? conditions.join(' AND ') : 'TRUE', params };
}

/** Session advisory lock held by the one process building similarity indexes. */
const VECTOR_INDEX_LOCK = 72_707_369_003;

/** The name of a model's HNSW index over the history. */
export function vectorIndexName(modelId: string, dim: number): string {
  return `scoring_unnestedhnsw_${modelId.replace(/[^a-zA-Z0-9]/g, '_').slice(0, 40)}_${dim}`;
}

/** An idempotency key as a request claims it: who, which key, and a fingerprint of what it asks. */
export interface IdempotencyClaim {
  principal: string;
  key: string;
  fingerprint: string;
  /** the images of the request that could not be scored (scoreImageBatch), answered again on a retry */
  failures?: readonly ImageFailure[];
}

/** The first request sent with an idempotency key: its records, the images it failed, its fingerprint. */
export interface IdempotentRequest {
  recordIds: string[];
  failures: ImageFailure[];
  fingerprint: string;
}

/** The columns a scoring record is written with, each beside the value it takes. */
const RECORD_COLUMNS = {
  caller: column('text', (r: NewScoringRecord) => r.caller),
  taxonomy_id: column('uuid', (r: NewScoringRecord) => r.taxonomyId),
  taxonomy_version_id: column('uuid', (r: NewScoringRecord) => r.taxonomyVersionId),
  negative_set_id: column('uuid', (r: NewScoringRecord) => r.negativeSetId),
  model_id: column('text', (r: NewScoringRecord) => r.modelId),
  threshold: column('float8', (r: NewScoringRecord) => r.threshold),
  image_hash: column('text', (r: NewScoringRecord) => r.imageHash),
  filename: column('text', (r: NewScoringRecord) => r.filename),
  image_embedding: column('vector', (r: NewScoringRecord) => r.imageEmbedding),
  score: column('float8', (r: NewScoringRecord) => r.score),
  logit_score: column('float8', (r: NewScoringRecord) => r.logitScore),
  is_ood: column('bool', (r: NewScoringRecord) => r.isOod),
  predicted_label: column('text', (r: NewScoringRecord) => r.predictedLabel),
  top_labels: column('jsonb', (r: NewScoringRecord) => JSON.stringify(r.topLabels)),
  top_negatives: column('jsonb', (r: NewScoringRecord) => JSON.stringify(r.topNegatives)),
  latency_ms: column('float8', (r: NewScoringRecord) => r.latencyMs),
  threshold_space: column('text', (r: NewScoringRecord) => r.thresholdSpace),
  requested_threshold: column('float8', (r: NewScoringRecord) => r.requested?.threshold ?? null),
  requested_threshold_space: column('text', (r: NewScoringRecord) => r.requested?.thresholdSpace ?? null),
  requested_is_ood: column('bool', (r: NewScoringRecord) => r.requested?.isOod ?? null),
  adaptive_score: column('float8', (r: NewScoringRecord) => r.adaptive?.adaptiveScore ?? null),
  memory_snapshot_id: column('bigint', (r: NewScoringRecord) => r.adaptive?.memorySnapshotId ?? null),
  memory_size: column('int', (r: NewScoringRecord) => r.adaptive?.memorySize ?? null),
  source_url: column('text', (r: NewScoringRecord) => r.sourceUrl),
};

export class ScoringRecordRepository {
  constructor(
    private readonly pool: pg.Pool,
    /** a session of the schema owner for DDL */
    private readonly ddl: DdlSession,
    /** whether index builds may run CONCURRENTLY (a server; PGlite is one backend anyway) */
    private readonly concurrentDdl: boolean,
    /** how long an idempotency key answers with its first request's records */
    readonly idempotencyWindowHours = 24,
  ) {}

  /**
   * Writes a request's records, their thumbnails and, with an idempotency key, its (principal,
   * key, fingerprint) row in one statement (one transaction, one round trip: each statement costs the request thread
   * a socket write and, on the embedded database, a turn of the single backend). Returns the new
   * ids, or the earlier use of the key when a concurrent request claimed it first (then nothing
   * is written): the caller, which looked the key up already (idempotentRequest), compares its
   * fingerprint with its own.
   */
  async insertMany(
    records: NewScoringRecord[],
    idempotency?: IdempotencyClaim,
  ): Promise<string[] | { earlier: IdempotentRequest }> {
    const vectorOid = await vectorTypeOid(this.pool);
    try {
      // no lock: the rows' writer_xid (a column default) places them in the history's order
      const unnested = unnestRows(records, RECORD_COLUMNS, { vectorOid });
      const next = unnested.parameters.length + 1;
      const { rows } = await this.pool.query<{ id: string }>(
        `WITH inserted AS (
           INSERT INTO scoring_records (${columnList(RECORD_COLUMNS)})
           SELECT ${unnested.names} FROM ${unnested.from} ORDER BY n
           RETURNING id),
         numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM inserted),
         thumbnails AS (
           INSERT INTO scoring_thumbnails (record_id, image)
           SELECT r.id, t.image FROM numbered r JOIN unnest($${next}::bytea[]) WITH ORDINALITY AS t(image, n) USING (n)
           WHERE t.image IS NOT NULL),
         request AS (
           INSERT INTO scoring_idempotency_keys (principal, idempotency_key, fingerprint, record_ids, failures)
           SELECT $${next + 1}::text, $${next + 2}::text, $${next + 3}::text, array_agg(id ORDER BY n),
                  $${next + 4}::jsonb
           FROM numbered HAVING $${next + 2}::text IS NOT NULL)
         SELECT id::text FROM numbered ORDER BY n`,
        [
          ...unnested.parameters,
          records.map((r) => (r.thumbnail ? Buffer.from(r.thumbnail) : null)),
          idempotency?.principal ?? null,
          idempotency?.key ?? null,
          idempotency?.fingerprint ?? null,
          idempotency?.failures?.length ? JSON.stringify(idempotency.failures) : null,
        ],
      );
      return rows.map((r) => r.id);
    } catch (error) {
      // a concurrent request with the same key committed first: answer with its records
      const earlier =
        idempotency && (error as { code?: string }).code === '23505'
          ? await this.idempotentRequest(idempotency.principal, idempotency.key)
          : null;
      if (earlier) return { earlier };
      throw error;
    }
  }

  /**
   * The request this principal last sent with this idempotency key within the window, or null. An
   * expired row is deleted here, so the key can be claimed again by the insert that follows.
   */
  async idempotentRequest(principal: string, key: string): Promise<IdempotentRequest | null> {
    const { rows } = await this.pool.query<{
      ids: string[];
      failures: ImageFailure[] | null;
      fingerprint: string;
      live: boolean;
    }>(
      `SELECT record_ids::text[] AS ids, failures, fingerprint, created_at > now() - $3 * interval '1 hour' AS live
       FROM scoring_idempotency_keys WHERE principal = $1 AND idempotency_key = $2`,
      [principal, key, this.idempotencyWindowHours],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.live) return { recordIds: row.ids, failures: row.failures ?? [], fingerprint: row.fingerprint };
    await this.pool.query(
      `DELETE FROM scoring_idempotency_keys WHERE principal = $1 AND idempotency_key = $2
         AND created_at <= now() - $3 * interval '1 hour'`,
      [principal, key, this.idempotencyWindowHours],
    );
    return null;
  }

  /** Deletes the idempotency keys past the window; returns how many. */
  async purgeExpiredIdempotencyKeys(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM scoring_idempotency_keys WHERE created_at <= now() - $1 * interval '1 hour'`,
      [this.idempotencyWindowHours],
    );
    return rowCount ?? 0;
  }

  /** Records by id, in the order given. */
  async findMany(ids: string[]): Promise<ScoringRecordRow[]> {
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id
       WHERE r.id = ANY($1::bigint[]) ORDER BY array_position($1::bigint[], r.id)`,
      [ids],
    );
    return rows.map(toRow);
  }

  async find(id: string): Promise<ScoringRecordRow | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id WHERE ` +
        `r.id = $1`,
      [id],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  /**
   * Newest first, below the horizon; the cursor is the last position seen, so pages never shift
   * when records are added, and a record committed later never lands behind a page already read.
   */
  async page(
    filter: ScoringFilter,
    first: number,
    before: string | null,
  ): Promise<{ rows: ScoringRecordRow[]; hasNextPage: boolean }> {
    const w = where(filter);
    const params = [...w.params];
    let cursor = '';
    const position = parsePosition(before);
    if (position) {
      params.push(position.xid, position.id);
      cursor = ` AND (r.writer_xid, r.id) < ($${params.length - 1}::xid8, $${params.length}::bigint)`;
    }
    params.push(first + 1);
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id
       WHERE ${w.sql}${cursor} AND r.writer_xid < ${HORIZON}
       ORDER BY r.writer_xid DESC, r.id DESC LIMIT $${params.length}`,
      params,
    );
    return { rows: rows.slice(0, first).map(toRow), hasNextPage: rows.length > first };
  }

  /**
   * A taxonomy's records after `position`, oldest first, below the horizon: what a follower reads
   * next (nothing can later commit before a position it has read).
   */
  async after(taxonomyId: string, position: string, limit: number): Promise<ScoringRecordRow[]> {
    const { xid, id } = parsePosition(position)!;
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id
       WHERE r.taxonomy_id = $1::uuid AND (r.writer_xid, r.id) > ($2::xid8, $3::bigint) AND r.writer_xid < ${HORIZON}
       ORDER BY r.writer_xid, r.id LIMIT $4`,
      [taxonomyId, xid, id, limit],
    );
    return rows.map(toRow);
  }

  /**
   * Whether the daily rollup can answer: whole days, no score or decision filter, and a bin
   * count that divides the rollup's 20 bins.
   */
  private rollupAnswers(filter: ScoringFilter, interval: string, bins: number): boolean {
    const midnight = (d?: Date | null) =>
      !d ||
      (d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0);
    return (
      interval !== 'hour' &&
      20 % bins === 0 &&
      filter.minScore == null &&
      filter.maxScore == null &&
      !filter.decision &&
      midnight(filter.from) &&
      midnight(filter.to)
    );
  }

  private async statsFromRollup(filter: ScoringFilter, interval: 'day' | 'week', bins: number) {
    const { sql, params } = where(filter, 0, 'd');
    const from = `FROM scoring_daily_stats d JOIN taxonomy_versions v ON v.id = d.taxonomy_version_id WHERE ${sql}`;
    const { rows } = await this.pool.query(
      `SELECT date_trunc('${interval}', d.day, 'UTC') AS start, sum(d.total)::int AS total, sum(d.ood)::int AS ood,
         sum(d.score_sum) AS score_sum
       ${from} GROUP BY 1 ORDER BY 1`,
      params,
    );
    const histogramRows = await this.pool.query<{ bin: number; n: number }>(
      `SELECT h.i AS bin, sum(h.n)::int AS n ` +
        `${from.replace('WHERE', ', unnest(d.histogram) WITH ORDINALITY AS h(n, i) WHERE')} GROUP BY 1`,
      params,
    );
    const counts = new Array<number>(bins).fill(0);
    for (const row of histogramRows.rows) counts[Math.floor(((row.bin - 1) * bins) / 20)] += row.n;
    const total = rows.reduce((a, r) => a + r.total, 0);
    const scoreSum = rows.reduce((a, r) => a + Number(r.score_sum), 0);
    return {
      total,
      ood: rows.reduce((a, r) => a + r.ood, 0),
      mean: total ? scoreSum / total : null,
      histogram: counts.map((count, i) => ({ lower: i / bins, upper: (i + 1) / bins, count })),
      buckets: rows.map((r) => ({
        start: r.start as Date,
        total: r.total as number,
        ood: r.ood as number,
        mean: Number(r.score_sum) / r.total,
      })),
    };
  }

  async stats(filter: ScoringFilter, interval: 'hour' | 'day' | 'week', bins: number) {
    if (this.rollupAnswers(filter, interval, bins))
      return this.statsFromRollup(filter, interval as 'day' | 'week', bins);
    const w = where(filter);
    const from = `FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id WHERE ${w.sql}`;
    const [totals, histogram, buckets] = await Promise.all([
      this.pool.query(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE r.is_ood)::int AS ood, avg(r.score) AS mean ${from}`,
        w.params,
      ),
      this.pool.query(
        `SELECT LEAST(width_bucket(r.score, 0, 1, ${bins}), ${bins}) AS bin, count(*)::int AS n ${from} GROUP BY 1 ` +
          `ORDER BY 1`,
        w.params,
      ),
      this.pool.query(
        `SELECT date_trunc('${interval}', r.created_at, 'UTC') AS start, count(*)::int AS total,
           count(*) FILTER (WHERE r.is_ood)::int AS ood, avg(r.score) AS mean
         ${from} GROUP BY 1 ORDER BY 1`,
        w.params,
      ),
    ]);
    const counts = new Array<number>(bins).fill(0);
    for (const row of histogram.rows) counts[Math.max(1, row.bin) - 1] += row.n;
    return {
      total: totals.rows[0].total as number,
      ood: totals.rows[0].ood as number,
      mean: totals.rows[0].mean === null ? null : Number(totals.rows[0].mean),
      histogram: counts.map((count, i) => ({ lower: i / bins, upper: (i + 1) / bins, count })),
      buckets: buckets.rows.map((b) => ({
        start: b.start as Date,
        total: b.total as number,
        ood: b.ood as number,
        mean: Number(b.mean),
      })),
    };
  }

  /**
   * The records of a (version, negative set, model) after position `after` (null: from the start)
   * and below the horizon, in the history's order, as an adaptive memory follows them: nothing can
   * commit behind them later. `last` is the position of the last one (`after` if none).
   */
  async memoryCandidatesAfter(
    versionId: string,
    setId: string,
    modelId: string,
    after: string | null,
  ): Promise<{ candidates: MemoryCandidate[]; last: string | null }> {
    const position = parsePosition(after) ?? { xid: '0', id: '0' };
    const { rows } = await this.pool.query<{ id: string; xid: string; score: number; caller: string }>(
      `SELECT r.id::text AS id, r.writer_xid::text AS xid, r.score, r.caller FROM scoring_records r
       WHERE r.taxonomy_version_id = $1 AND r.negative_set_id = $2 AND r.model_id = $3
         AND (r.writer_xid, r.id) > ($4::xid8, $5::bigint) AND r.writer_xid < ${HORIZON}
       ORDER BY r.writer_xid, r.id`,
      [versionId, setId, modelId, position.xid, position.id],
    );
    const tail = rows.at(-1);
    return {
      candidates: rows.map((r) => ({ id: Number(r.id), score: r.score, caller: r.caller })),
      last: tail ? `${tail.xid}:${tail.id}` : after,
    };
  }

  /**
   * The records of a (version, negative set, model) up to and including record `horizon` in the
   * history's order (a snapshot id: all of them had committed when it was taken) that a memory
   * could take: each caller's lowest `perCaller` (by score, then id), in memory order; and how
   * many records each caller had.
   */
  async memoryCandidatesAt(
    versionId: string,
    setId: string,
    modelId: string,
    horizon: number,
    perCaller: number,
  ): Promise<{ candidates: MemoryCandidate[]; eligible: Map<string, number> }> {
    const params = [versionId, setId, modelId, horizon];
    const { rows } = await this.pool.query<{ id: string; score: number; caller: string }>(
      `SELECT id::text AS id, score, caller FROM (
         SELECT id, score, caller, row_number() OVER (PARTITION BY caller ORDER BY score, id) AS rank
         FROM scoring_records
         WHERE taxonomy_version_id = $1 AND negative_set_id = $2 AND model_id = $3
           AND (writer_xid, id) <= (SELECT writer_xid, id FROM scoring_records WHERE id = $4)) ranked
       WHERE rank <= $5 ORDER BY score, ranked.id`,
      [...params, perCaller],
    );
    const { rows: counts } = await this.pool.query<{ caller: string; n: number }>(
      `SELECT caller, count(*)::int AS n FROM scoring_records
       WHERE taxonomy_version_id = $1 AND negative_set_id = $2 AND model_id = $3
         AND (writer_xid, id) <= (SELECT writer_xid, id FROM scoring_records WHERE id = $4)
       GROUP BY caller`,
      params,
    );
    return {
      candidates: rows.map((r) => ({ id: Number(r.id), score: r.score, caller: r.caller })),
      eligible: new Map(counts.map((c) => [c.caller, c.n])),
    };
  }

  /** Stored image embeddings by record id. */
  async embeddings(ids: readonly number[]): Promise<Map<number, Float32Array>> {
    const { rows } = await this.pool.query<{ id: string; embedding: Buffer }>(
      'SELECT id::text AS id, vector_send(image_embedding) AS embedding FROM scoring_records ' +
        'WHERE id = ANY($1::bigint[])',
      [ids],
    );
    return new Map(rows.map((r) => [Number(r.id), vectorFromBytes(r.embedding)]));
  }

  /**
   * Deletes the thumbnails older than their taxonomy's retention as of `asOf` (reads never show
   * them past it anyway); returns how many.
   */
  async purgeExpiredThumbnails(asOf: Date): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM scoring_thumbnails t USING scoring_records r, taxonomies x
       WHERE r.id = t.record_id AND x.id = r.taxonomy_id
         AND t.created_at <= $1::timestamptz - x.thumbnail_retention_days * interval '1 day'`,
      [asOf],
    );
    return rowCount ?? 0;
  }

  /**
   * The id of the last record below the horizon in the history's order (0 for an empty history):
   * a memory frozen now is frozen at it, and names exactly the records up to it.
   */
  async latestId(): Promise<number> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id::text AS id FROM scoring_records WHERE writer_xid < ${HORIZON} ORDER BY writer_xid DESC, id DESC ` +
        'LIMIT 1',
    );
    return Number(rows[0]?.id ?? 0);
  }

  /**
   * Builds the model's HNSW index if it does not exist yet, as the owner role, off every request
   * path (at start-up, for each loaded model). On a server the build is CONCURRENTLY, so scoring
   * writes go on meanwhile; its existence is read from the catalog, which takes no table lock; one
   * process builds at a time (a session lock: the others answer `busy` and look again later). A
   * build that failed half way leaves an invalid index, which is dropped and built again.
   */
  async ensureVectorIndex(modelId: string, dim: number): Promise<'exists' | 'built' | 'busy'> {
    const name = vectorIndexName(modelId, dim);
    const literal = modelId.replace(/'/g, "''");
    const concurrently = this.concurrentDdl ? ' CONCURRENTLY' : '';
    return this.ddl(async (client) => {
      const state = async () =>
        (
          await client.query<{ valid: boolean }>(
            'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid ' +
              'WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace',
            [name],
          )
        ).rows[0]?.valid;
      if ((await state()) === true) return 'exists';
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        VECTOR_INDEX_LOCK,
      ]);
      if (!rows[0].ok) return 'busy';
      try {
        const found = await state();
        if (found === true) return 'exists';
        if (found === false) await client.query(`DROP INDEX${concurrently} IF EXISTS "${name}"`);
        await client.query(
          `CREATE INDEX${concurrently} IF NOT EXISTS "${name}" ON scoring_records USING hnsw ` +
            `((image_embedding::vector(${dim})) vector_cosine_ops) WHERE model_id = '${literal}'`,
        );
        return 'built';
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [VECTOR_INDEX_LOCK]).catch(() => {});
      }
    });
  }

  /**
   * The `first` records nearest to `query` among the model's (and the taxonomy's, if given):
   * min(first, matching records) of them, whatever the filter. The HNSW index is scanned
   * iteratively in exact distance order with a candidate list at least `first` long (pgvector's
   * default of 40 candidates, filtered afterwards, returned 0 rows for a taxonomy holding 2.6 % of
   * the history); when the scan stops short (its tuple budget is spent on other taxonomies' rows,
   * or there are fewer matching records), the matching records are ranked exactly instead.
   */
  async nearest(modelId: string, dim: number, query: Float32Array, first: number, taxonomyId: string | null) {
    const params: unknown[] = [modelId, vectorBytes(query), first];
    let extra = '';
    if (taxonomyId) {
      params.push(taxonomyId);
      extra = ' AND r.taxonomy_id = $4::uuid';
    }
    const search = (distance: string) =>
      `SELECT ${COLUMNS}, ${distance} AS distance
       FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id
       WHERE r.model_id = $1${extra}
       ORDER BY ${distance} LIMIT $3`;
    const indexed = `r.image_embedding::vector(${dim}) <=> $2::vector(${dim})`;
    const candidates = Math.min(1000, Math.max(100, 2 * first));
    const rows = await withTransaction(
      this.pool,
      async (client) => {
        const indexedRows = (await client.query(search(indexed), params)).rows;
        // `+ 0` keeps the planner off the index: an exact ranking of the matching records
        return indexedRows.length < first ? (await client.query(search(`(${indexed}) + 0`), params)).rows : indexedRows;
      },
      `BEGIN; SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = ${candidates}`,
    );
    return rows.map((r) => ({ similarity: 1 - Number(r.distance), record: toRow(r) }));
  }
}
