-- The verifiable history: an RFC 6962 Merkle log over the scoring records and the audit log, in
-- the history's order, with signed checkpoints (src/transparency/, src/jobs/history-sealer.ts).
-- Every table here is append-only, as the history it seals.

-- one row per leaf: which record sits at which position, and the hash the sealer gave it
CREATE TABLE "history_log_leaves" (
    "position" BIGINT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL CHECK ("kind" IN ('scoring', 'audit')),
    "record_id" BIGINT NOT NULL,
    "leaf_hash" BYTEA NOT NULL CHECK (length("leaf_hash") = 32),
    UNIQUE ("kind", "record_id")
);

-- interior nodes of every 8th level (8, 16, 24, …): a proof rebuilds any node from at most 128
CREATE TABLE "history_log_nodes" (
    "level" SMALLINT NOT NULL,
    "index" BIGINT NOT NULL,
    "hash" BYTEA NOT NULL CHECK (length("hash") = 32),
    PRIMARY KEY ("level", "index")
);

-- the public keys that signed checkpoints (rotation keeps the old ones, so old checkpoints verify)
CREATE TABLE "history_signing_keys" (
    "key_id" TEXT NOT NULL PRIMARY KEY,
    "public_key" TEXT NOT NULL,
    "first_used_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- signed tree heads; each names the one before (previous_hash), and keeps what the next seal
-- starts from: the tree's right edge (frontier) and the last position sealed of each table
CREATE TABLE "history_checkpoints" (
    "tree_size" BIGINT NOT NULL PRIMARY KEY,
    "root_hash" BYTEA NOT NULL,
    "signed_at" TIMESTAMPTZ(3) NOT NULL,
    "previous_hash" BYTEA,
    "key_id" TEXT NOT NULL REFERENCES "history_signing_keys" ("key_id"),
    "signature" BYTEA NOT NULL,
    "frontier" BYTEA[] NOT NULL,
    "scoring_xid" xid8 NOT NULL,
    "scoring_id" BIGINT NOT NULL,
    "audit_xid" xid8 NOT NULL,
    "audit_id" BIGINT NOT NULL
);

CREATE TRIGGER "history_log_leaves_no_update_delete" BEFORE UPDATE OR DELETE ON "history_log_leaves"
    FOR EACH ROW EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_log_leaves_no_truncate" BEFORE TRUNCATE ON "history_log_leaves"
    FOR EACH STATEMENT EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_log_nodes_no_update_delete" BEFORE UPDATE OR DELETE ON "history_log_nodes"
    FOR EACH ROW EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_log_nodes_no_truncate" BEFORE TRUNCATE ON "history_log_nodes"
    FOR EACH STATEMENT EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_signing_keys_no_update_delete" BEFORE UPDATE OR DELETE ON "history_signing_keys"
    FOR EACH ROW EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_signing_keys_no_truncate" BEFORE TRUNCATE ON "history_signing_keys"
    FOR EACH STATEMENT EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_checkpoints_no_update_delete" BEFORE UPDATE OR DELETE ON "history_checkpoints"
    FOR EACH ROW EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "history_checkpoints_no_truncate" BEFORE TRUNCATE ON "history_checkpoints"
    FOR EACH STATEMENT EXECUTE FUNCTION "append_only"();
