-- scoreImageBatch scores each image on its own: an image that cannot be scored (bad bytes, a
-- failed upload or URL) gets its coded error and no record. A retry with the same idempotency key
-- answers those failures again, so the key's row keeps them beside the records' ids (null: none).
-- Adding a nullable column takes no table rewrite.
ALTER TABLE "scoring_idempotency_keys" ADD COLUMN "failures" JSONB;
