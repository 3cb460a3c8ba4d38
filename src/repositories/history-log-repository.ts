/**
 * The history log's storage (migrations/20261205000000_history_log): its leaves, the stored levels
 * of its tree, its signed checkpoints and signing keys, and the one query that reads what a leaf
 * holds of a scoring record or an audit entry (LEAF_FIELDS). Sealing is one transaction under a
 * transaction-level advisory lock, so across processes one sealer at a time appends, and a sealer
 * that dies mid-round leaves nothing behind. Rows are sealed below the history's horizon, in its
 * order (history-position.ts), so nothing can later commit behind a sealed position.
 */
import type pg from 'pg';
import type { SignedCheckpoint } from '../transparency/checkpoint.ts';
import type { AuditLeafFields, LeafKind, ScoringLeafFields } from '../transparency/leaf.ts';
import type { NodeReader } from '../transparency/merkle.ts';
import { HORIZON } from './history-position.ts';
import { column, columnList, unnestRows, withTransaction } from './sql.ts';

/** Transaction-level advisory lock of the sealer (one round at a time across processes). */
const SEAL_LOCK = 72_707_369_026;

const ISO_TIME = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** A scoring record's leaf fields, over `r` (scoring_records) and `v` (taxonomy_versions). */
const SCORING_FIELDS = `json_build_object('id', r.id::text,
  'createdAt', to_char(r.created_at AT TIME ZONE 'UTC', ${ISO_TIME}), 'caller', r.caller,
  'taxonomyId', r.taxonomy_id, 'taxonomyVersionId', r.taxonomy_version_id, 'taxonomyVersion', v.version,
  'negativeSetId', r.negative_set_id, 'modelId', r.model_id, 'imageHash', r.image_hash, 'score', r.score,
  'logitScore', r.logit_score, 'adaptiveScore', r.adaptive_score, 'memorySnapshotId', r.memory_snapshot_id::text,
  'memorySize', r.memory_size, 'threshold', r.threshold, 'thresholdSpace', r.threshold_space,
  'requestedThreshold', r.requested_threshold, 'requestedThresholdSpace', r.requested_threshold_space,
  'requestedIsOod', r.requested_is_ood, 'isOod', r.is_ood, 'predictedLabel', r.predicted_label,
  'topLabels', r.top_labels, 'topNegatives', r.top_negatives)`;

/** An audit entry's leaf fields, over `a` (audit_log). */
const AUDIT_FIELDS = `json_build_object('id', a.id::text,
  'createdAt', to_char(a.created_at AT TIME ZONE 'UTC', ${ISO_TIME}), 'actor', a.actor, 'action', a.action,
  'target', a.target, 'taxonomyId', a.taxonomy_id, 'details', a.details)`;

/** A row's place in its table's order: (writer_xid, id), as text. */
export interface TablePosition {
  xid: string;
  id: string;
}

export interface StoredCheckpoint extends SignedCheckpoint {
  frontier: Buffer[];
  scoring: TablePosition;
  audit: TablePosition;
}

export interface UnsealedRow {
  kind: LeafKind;
  id: string;
  xid: string;
  fields: ScoringLeafFields | AuditLeafFields;
}

type SealedLeaf = SealedRound['leaves'][number];
type StoredNode = SealedRound['nodes'][number];
const LEAF_COLUMNS = {
  position: column('bigint', (l: SealedLeaf) => l.position),
  kind: column('text', (l: SealedLeaf) => l.kind),
  record_id: column('bigint', (l: SealedLeaf) => l.recordId),
  leaf_hash: column('bytea', (l: SealedLeaf) => l.hash),
};
const NODE_COLUMNS = {
  level: column('smallint', (n: StoredNode) => n.level),
  index: column('bigint', (n: StoredNode) => n.index),
  hash: column('bytea', (n: StoredNode) => n.hash),
};

export interface SealedRound {
  leaves: Array<{ position: number; kind: LeafKind; recordId: string; hash: Buffer }>;
  nodes: Array<{ level: number; index: number; hash: Buffer }>;
  checkpoint: StoredCheckpoint;
}

export interface ExportedLeaf {
  position: number;
  kind: LeafKind;
  recordId: string;
  leafHash: Buffer;
  fields: ScoringLeafFields | AuditLeafFields | null;
}

/** The columns of `history_checkpoints c` (ORDER BY c.tree_size: the bare name would sort the text alias). */
const CHECKPOINT_COLUMNS = `c.tree_size::text AS tree_size, c.root_hash, c.signed_at, c.previous_hash, c.key_id,
  c.signature, c.frontier, c.scoring_xid::text AS scoring_xid, c.scoring_id::text AS scoring_id,
  c.audit_xid::text AS audit_xid, c.audit_id::text AS audit_id`;

interface CheckpointRow {
  tree_size: string;
  root_hash: Buffer;
  signed_at: Date;
  previous_hash: Buffer | null;
  key_id: string;
  signature: Buffer;
  frontier: Buffer[];
  scoring_xid: string;
  scoring_id: string;
  audit_xid: string;
  audit_id: string;
}

function toCheckpoint(r: CheckpointRow): StoredCheckpoint {
  return {
    treeSize: Number(r.tree_size),
    rootHash: r.root_hash,
    signedAt: r.signed_at,
    previousHash: r.previous_hash,
    keyId: r.key_id,
    signature: r.signature,
    frontier: r.frontier,
    scoring: { xid: r.scoring_xid, id: r.scoring_id },
    audit: { xid: r.audit_xid, id: r.audit_id },
  };
}

const LATEST_CHECKPOINT = `SELECT ${CHECKPOINT_COLUMNS} FROM history_checkpoints c ORDER BY c.tree_size DESC LIMIT 1`;

const KIND_ORDER: Record<LeafKind, number> = { scoring: 0, audit: 1 };

/** The history's order across both tables: writer transaction, then table, then id. */
function compareRows(a: UnsealedRow, b: UnsealedRow): number {
  const byXid = BigInt(a.xid) - BigInt(b.xid);
  if (byXid !== 0n) return byXid < 0n ? -1 : 1;
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  const byId = BigInt(a.id) - BigInt(b.id);
  return byId === 0n ? 0 : byId < 0n ? -1 : 1;
}

export class HistoryLogRepository {
  constructor(private readonly pool: pg.Pool) {}

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const { rows } = await this.pool.query<CheckpointRow>(LATEST_CHECKPOINT);
    return rows[0] ? toCheckpoint(rows[0]) : null;
  }

  /** Checkpoints from the oldest, `limit` of them after tree size `afterSize`. */
  async checkpoints(afterSize: number, limit: number): Promise<StoredCheckpoint[]> {
    const { rows } = await this.pool.query<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM history_checkpoints c WHERE c.tree_size > $1 ORDER BY c.tree_size LIMIT $2`,
      [afterSize, limit],
    );
    return rows.map(toCheckpoint);
  }

  async signingKeys(): Promise<Array<{ keyId: string; publicKey: string; firstUsedAt: Date }>> {
    const { rows } = await this.pool.query(
      'SELECT key_id, public_key, first_used_at FROM history_signing_keys ORDER BY first_used_at, key_id',
    );
    return rows.map((r) => ({ keyId: r.key_id, publicKey: r.public_key, firstUsedAt: r.first_used_at }));
  }

  /** Records a signing key's public half (once per key; rotation adds a row). */
  async registerKey(keyId: string, publicKey: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO history_signing_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING',
      [keyId, publicKey],
    );
  }

  /**
   * One sealing round: under the sealer lock, reads the latest checkpoint and up to `limit` rows
   * after it below the horizon, in the history's order, and writes what `build` makes of them
   * (leaves, stored nodes, the signed checkpoint) in the same transaction. Returns how many leaves
   * were sealed, or null when another process holds the lock.
   */
  async seal(
    limit: number,
    build: (previous: StoredCheckpoint | null, rows: UnsealedRow[]) => SealedRound,
  ): Promise<number | null> {
    // floats read at full precision whatever the server's default, so a leaf's bytes never depend on it
    return withTransaction(
      this.pool,
      async (client) => {
        const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [SEAL_LOCK]);
        if (!locked.rows[0].ok) {
          return null;
        }
        const head = await client
          .query<CheckpointRow>(LATEST_CHECKPOINT)
          .then((r) => (r.rows[0] ? toCheckpoint(r.rows[0]) : null));
        const scoring = head?.scoring ?? { xid: '0', id: '0' };
        const audit = head?.audit ?? { xid: '0', id: '0' };
        // one statement, so one snapshot and one horizon for both tables
        const { rows } = await client.query<UnsealedRow>(
          `(SELECT 'scoring' AS kind, r.id::text AS id, r.writer_xid::text AS xid, ${SCORING_FIELDS} AS fields
          FROM scoring_records r JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id
          WHERE (r.writer_xid, r.id) > ($1::xid8, $2::bigint) AND r.writer_xid < ${HORIZON}
          ORDER BY r.writer_xid, r.id LIMIT $5)
         UNION ALL
         (SELECT 'audit', a.id::text, a.writer_xid::text, ${AUDIT_FIELDS}
          FROM audit_log a WHERE (a.writer_xid, a.id) > ($3::xid8, $4::bigint) AND a.writer_xid < ${HORIZON}
          ORDER BY a.writer_xid, a.id LIMIT $5)`,
          [scoring.xid, scoring.id, audit.xid, audit.id, limit],
        );
        if (rows.length === 0) {
          return 0;
        }
        // a prefix of the merged order is a prefix of each table's: the cursors stay exact
        const taken = rows.sort(compareRows).slice(0, limit);
        const round = build(head, taken);
        const leaves = unnestRows(round.leaves, LEAF_COLUMNS);
        await client.query(
          `INSERT INTO history_log_leaves (${columnList(LEAF_COLUMNS)}) SELECT ${leaves.names} FROM ${leaves.from}`,
          leaves.parameters,
        );
        if (round.nodes.length) {
          const nodes = unnestRows(round.nodes, NODE_COLUMNS);
          await client.query(
            `INSERT INTO history_log_nodes (${columnList(NODE_COLUMNS)}) SELECT ${nodes.names} FROM ${nodes.from}`,
            nodes.parameters,
          );
        }
        const c = round.checkpoint;
        await client.query(
          `INSERT INTO history_checkpoints (tree_size, root_hash, signed_at, previous_hash, key_id, signature, frontier,
           scoring_xid, scoring_id, audit_xid, audit_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7::bytea[], $8::xid8, $9, $10::xid8, $11)`,
          [
            c.treeSize,
            c.rootHash,
            c.signedAt,
            c.previousHash,
            c.keyId,
            c.signature,
            c.frontier,
            c.scoring.xid,
            c.scoring.id,
            c.audit.xid,
            c.audit.id,
          ],
        );
        return round.leaves.length;
      },
      'BEGIN; SET LOCAL extra_float_digits = 1',
    );
  }

  /** Where a record sits in the log, or null while it is not sealed. */
  async leafOf(kind: LeafKind, recordId: string): Promise<{ position: number; leafHash: Buffer } | null> {
    if (!/^\d{1,18}$/.test(recordId)) return null;
    const { rows } = await this.pool.query(
      'SELECT position::text AS position, leaf_hash FROM history_log_leaves WHERE kind = $1 AND record_id = $2',
      [kind, recordId],
    );
    return rows[0] ? { position: Number(rows[0].position), leafHash: rows[0].leaf_hash } : null;
  }

  /** Stored hashes of a level: the leaves (level 0) or a stored interior level. */
  readonly readNodes: NodeReader = async (level, index, count) => {
    const { rows } =
      level === 0
        ? await this.pool.query(
            'SELECT leaf_hash AS hash FROM history_log_leaves WHERE position >= $1 AND position < $2 ORDER BY position',
            [index, index + count],
          )
        : await this.pool.query(
            `SELECT hash FROM history_log_nodes WHERE level = $1 AND index >= $2 AND index < $3 ORDER BY index`,
            [level, index, index + count],
          );
    return rows.map((r) => r.hash);
  };

  /**
   * `limit` leaves from `from` in log order, each with the fields its record holds now (null when
   * the record is gone): what the export carries and the verifier hashes again.
   */
  async leaves(from: number, limit: number): Promise<ExportedLeaf[]> {
    return withTransaction(
      this.pool,
      async (client) => {
        const { rows } = await client.query(
          `SELECT l.position::text AS position, l.kind, l.record_id::text AS record_id, l.leaf_hash,
           CASE WHEN l.kind = 'scoring' THEN (SELECT ${SCORING_FIELDS} FROM scoring_records r
                  JOIN taxonomy_versions v ON v.id = r.taxonomy_version_id WHERE r.id = l.record_id)
                ELSE (SELECT ${AUDIT_FIELDS} FROM audit_log a WHERE a.id = l.record_id) END AS fields
         FROM history_log_leaves l WHERE l.position >= $1 ORDER BY l.position LIMIT $2`,
          [from, limit],
        );
        return rows.map((r) => ({
          position: Number(r.position),
          kind: r.kind,
          recordId: r.record_id,
          leafHash: r.leaf_hash,
          fields: r.fields,
        }));
      },
      'BEGIN; SET LOCAL extra_float_digits = 1',
    );
  }

  /**
   * What waits to be sealed: committed rows after the latest checkpoint's positions, and when the
   * oldest of them was written (null when none). Both read the tail of the position indexes.
   */
  async backlog(): Promise<{ rows: number; oldest: Date | null }> {
    const { rows } = await this.pool.query<{ n: string; oldest: Date | null }>(
      `WITH c AS (
         SELECT coalesce(max(c.scoring_xid::text), '0')::xid8 AS sx, coalesce(max(c.scoring_id), 0) AS si,
                coalesce(max(c.audit_xid::text), '0')::xid8 AS ax, coalesce(max(c.audit_id), 0) AS ai
         FROM (${LATEST_CHECKPOINT}) c),
       waiting AS (
         SELECT r.created_at FROM scoring_records r, c WHERE (r.writer_xid, r.id) > (c.sx, c.si)
         UNION ALL
         SELECT a.created_at FROM audit_log a, c WHERE (a.writer_xid, a.id) > (c.ax, c.ai))
       SELECT count(*)::text AS n, min(created_at) AS oldest FROM waiting`,
    );
    return { rows: Number(rows[0].n), oldest: rows[0].oldest };
  }

  /**
   * Records at or before the sealed positions that the log does not hold: rows written behind the
   * sealer (a forged record with a chosen id or writer). `limit` of them, by table.
   */
  async unsealedBehind(
    scoring: TablePosition,
    audit: TablePosition,
    limit: number,
  ): Promise<Array<{ kind: LeafKind; id: string }>> {
    const { rows } = await this.pool.query(
      `(SELECT 'scoring' AS kind, r.id::text AS id FROM scoring_records r
        WHERE (r.writer_xid, r.id) <= ($1::xid8, $2::bigint)
          AND NOT EXISTS (SELECT 1 FROM history_log_leaves l WHERE l.kind = 'scoring' AND l.record_id = r.id)
        ORDER BY r.writer_xid, r.id LIMIT $5)
       UNION ALL
       (SELECT 'audit', a.id::text FROM audit_log a
        WHERE (a.writer_xid, a.id) <= ($3::xid8, $4::bigint)
          AND NOT EXISTS (SELECT 1 FROM history_log_leaves l WHERE l.kind = 'audit' AND l.record_id = a.id)
        ORDER BY a.writer_xid, a.id LIMIT $5)`,
      [scoring.xid, scoring.id, audit.xid, audit.id, limit],
    );
    return rows;
  }
}
