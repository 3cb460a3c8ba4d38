-- scoreImages with an idempotency key: a client that retries a request whose answer it lost gets
-- the first answer back instead of a second set of records. One row per (caller, key), written in
-- the same transaction as the records; append-only like the history it points into.
CREATE TABLE "scoring_requests" (
    "caller" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "record_ids" BIGINT[] NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "scoring_requests_pkey" PRIMARY KEY ("caller", "idempotency_key")
);
CREATE TRIGGER "scoring_requests_no_update_delete" BEFORE UPDATE OR DELETE ON "scoring_requests"
    FOR EACH ROW EXECUTE FUNCTION "append_only"();
