-- Idempotency keys belong to the API key that used them (its id: names are not unique), remember
-- what was asked (a fingerprint of the taxonomy, the images' hashes and the options) so a reused
-- key with another request is refused instead of answered with someone else's results, and expire
-- (NEGLABEL_IDEMPOTENCY_WINDOW_HOURS): an expired row is deleted when its key is used again.
-- The rows are bookkeeping, not history (the records they point to are), so they may be deleted.
-- The old table keyed by name cannot be mapped to key ids: retries of requests made before this
-- migration are scored as new requests.
DROP TABLE "scoring_requests";

CREATE TABLE "scoring_idempotency_keys" (
    -- the API key's id, or "open" for the anonymous caller of open mode
    "principal" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "record_ids" BIGINT[] NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "scoring_idempotency_keys_pkey" PRIMARY KEY ("principal", "idempotency_key")
);
CREATE INDEX "scoring_idempotency_keys_created_at_idx" ON "scoring_idempotency_keys" ("created_at");
