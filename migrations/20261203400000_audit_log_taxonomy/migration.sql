-- The taxonomy an audit entry concerns, so a taxonomy-scoped auditor reads only its own tenants'
-- entries. Entries written before this column have none: they are shown to unscoped keys only
-- (the log is append-only, so they are not backfilled).
ALTER TABLE "audit_log" ADD COLUMN "taxonomy_id" UUID;
CREATE INDEX "audit_log_taxonomy_position_idx" ON "audit_log" ("taxonomy_id", "writer_xid" DESC, "id" DESC);
