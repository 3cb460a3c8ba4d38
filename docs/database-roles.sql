-- Grants for running neglabel on an external Postgres with two roles, so that the append-only
-- guarantee of the scoring history and the audit log does not rest on the service's own good
-- behaviour:
--   * the owner role (NEGLABEL_MIGRATION_DATABASE_URL) owns the schema: it applies migrations and
--     creates the per-model HNSW indexes;
--   * the runtime role (DATABASE_URL) owns nothing: it can read, insert, and update the few mutable
--     tables, but cannot UPDATE, DELETE or TRUNCATE the history or the audit log, cannot ALTER
--     a table or disable a trigger, and cannot touch the migration record.
-- Run as the owner role after the first start (or after `prisma migrate deploy`), in the schema
-- neglabel uses. The role name is an example; the password is yours to choose:
--   CREATE ROLE neglabel_runtime LOGIN PASSWORD '…';
-- Re-run after upgrades that add tables (or keep the ALTER DEFAULT PRIVILEGES at the end).

GRANT USAGE ON SCHEMA public TO neglabel_runtime;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO neglabel_runtime;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO neglabel_runtime;

-- append-only: the history and the audit log, whose id, writer and time the database sets (a
-- row cannot be placed among sealed ones with a chosen id, writer_xid or created_at), and the
-- caches that are only ever added to
REVOKE INSERT ON scoring_records, audit_log FROM neglabel_runtime;
GRANT INSERT (caller, taxonomy_id, taxonomy_version_id, negative_set_id, model_id, threshold, threshold_space,
  requested_threshold, requested_threshold_space, requested_is_ood, image_hash, filename, image_embedding, score,
  logit_score, is_ood, predicted_label, top_labels, top_negatives, latency_ms, adaptive_score, memory_snapshot_id,
  memory_size, source_url) ON scoring_records TO neglabel_runtime;
GRANT INSERT (actor, action, target, details, taxonomy_id) ON audit_log TO neglabel_runtime;
GRANT INSERT ON label_embeddings, corpus_embeddings, negative_labels TO neglabel_runtime;

-- the history log (the sealer runs as this role): leaves, stored nodes, checkpoints and signing
-- keys are appended, never changed
GRANT INSERT ON history_log_leaves, history_log_nodes, history_checkpoints, history_signing_keys
  TO neglabel_runtime;

-- thumbnails kept for audit are deleted when their retention ends
GRANT INSERT, DELETE ON scoring_thumbnails TO neglabel_runtime;

-- idempotency keys are deleted when they expire
GRANT INSERT, DELETE ON scoring_idempotency_keys TO neglabel_runtime;

-- the corpus cache's one backfilled column: the raw norm CSP needs, for rows cached before it was kept
GRANT UPDATE (norm) ON corpus_embeddings TO neglabel_runtime;

-- mutable state: taxonomies (thresholds, a frozen adaptive memory), versions (active negative set), mining jobs
-- (queue and progress), negative label sets, API keys (revocation)
GRANT INSERT, UPDATE ON taxonomies, taxonomy_versions, mining_jobs, negative_label_sets, api_keys
  TO neglabel_runtime;

-- nothing else: no other DELETE, no TRUNCATE anywhere, no write on _prisma_migrations or
-- scoring_daily_stats (its trigger runs as the owner)

ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO neglabel_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO neglabel_runtime;
