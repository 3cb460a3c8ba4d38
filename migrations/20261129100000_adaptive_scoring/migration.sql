-- Adaptive scoring: a record scored in adaptive mode keeps, beside its static NegLabel score, the
-- adaptive score S - c5, the memory snapshot it was computed against (the highest record id the
-- memory could draw from) and the memory's size.
ALTER TABLE "scoring_records" ADD COLUMN "adaptive_score" DOUBLE PRECISION;
ALTER TABLE "scoring_records" ADD COLUMN "memory_snapshot_id" BIGINT;
ALTER TABLE "scoring_records" ADD COLUMN "memory_size" INTEGER;
-- the memory of a (version, negative set, model) is read in id order from a horizon
CREATE INDEX "scoring_records_memory_idx" ON "scoring_records"("taxonomy_version_id", "negative_set_id", "model_id", "id");
-- A taxonomy's threshold for adaptive scores (null: adaptive requests decide on the static score)
-- and the snapshot its memory is frozen at (null: the memory follows the history).
ALTER TABLE "taxonomies" ADD COLUMN "adaptive_threshold" DOUBLE PRECISION;
ALTER TABLE "taxonomies" ADD COLUMN "memory_frozen_snapshot" BIGINT;
