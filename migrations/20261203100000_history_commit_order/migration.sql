-- The history's order without a global write lock. Each scoring record and audit entry keeps the
-- id of the transaction that wrote it (writer_xid); the history is ordered by (writer_xid, id),
-- and readers see only rows whose writer_xid is older than the oldest transaction still in progress
-- (pg_snapshot_xmin(pg_current_snapshot())). Every row that commits later has a writer_xid at or
-- above that horizon, so it always lands after everything a reader has seen: a cursor never skips
-- a record committed later. Rows written before this migration (in commit order, under the old
-- lock) keep writer_xid 0, ahead of every later one, in id order.
-- The constant default fills existing rows without rewriting the table; the volatile one applies
-- to new rows only.
ALTER TABLE "scoring_records" ADD COLUMN "writer_xid" xid8 NOT NULL DEFAULT '0';
ALTER TABLE "scoring_records" ALTER COLUMN "writer_xid" SET DEFAULT pg_current_xact_id();
ALTER TABLE "audit_log" ADD COLUMN "writer_xid" xid8 NOT NULL DEFAULT '0';
ALTER TABLE "audit_log" ALTER COLUMN "writer_xid" SET DEFAULT pg_current_xact_id();

-- the history's indexes follow the new order
CREATE INDEX "scoring_records_position_idx" ON "scoring_records" ("writer_xid", "id");
DROP INDEX "scoring_records_taxonomy_id_id_idx";
CREATE INDEX "scoring_records_taxonomy_id_position_idx" ON "scoring_records" ("taxonomy_id", "writer_xid", "id");
DROP INDEX "scoring_records_caller_id_idx";
CREATE INDEX "scoring_records_caller_position_idx" ON "scoring_records" ("caller", "writer_xid", "id");
DROP INDEX "scoring_records_taxonomy_id_is_ood_id_idx";
CREATE INDEX "scoring_records_taxonomy_id_is_ood_position_idx"
  ON "scoring_records" ("taxonomy_id", "is_ood", "writer_xid", "id");
DROP INDEX "scoring_records_memory_idx";
CREATE INDEX "scoring_records_memory_position_idx"
  ON "scoring_records" ("taxonomy_version_id", "negative_set_id", "model_id", "writer_xid", "id");
CREATE INDEX "audit_log_position_idx" ON "audit_log" ("writer_xid", "id");

-- the position readers may see up to (exclusive): the oldest transaction still in progress
CREATE FUNCTION "history_horizon"() RETURNS xid8 LANGUAGE sql STABLE AS $$
  SELECT pg_snapshot_xmin(pg_current_snapshot())
$$;
