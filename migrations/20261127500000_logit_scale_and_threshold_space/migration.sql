-- NegLabel's temperature 0.01 is CLIP's learned logit scale (100). A model trained with another
-- scale saturates at 100 (ID scores of 0.99999999998), so each taxonomy version records the scale
-- it scores at: the model folder's stated `logit_scale`, or 100 when it states none. Versions made
-- before this migration were scored at 100.
ALTER TABLE "taxonomy_versions" ADD COLUMN "logit_scale" DOUBLE PRECISION NOT NULL DEFAULT 100;
ALTER TABLE "taxonomy_versions" ADD CONSTRAINT "taxonomy_versions_logit_scale_positive" CHECK ("logit_scale" > 0 AND "logit_scale" <= 1000);

-- Thresholds can live on `score` (in (0, 1)) or on `logitScore` (unbounded, never saturates).
ALTER TABLE "taxonomies" ADD COLUMN "threshold_space" TEXT NOT NULL DEFAULT 'SCORE';
ALTER TABLE "taxonomies" ADD CONSTRAINT "taxonomies_threshold_space_known" CHECK ("threshold_space" IN ('SCORE', 'LOGIT_SCORE'));
ALTER TABLE "scoring_records" ADD COLUMN "threshold_space" TEXT NOT NULL DEFAULT 'SCORE';
