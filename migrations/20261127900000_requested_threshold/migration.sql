-- A caller may score with its own threshold. Its decision is returned and kept here, but the
-- record's threshold and is_ood (what dashboards and the daily rollup count) are the taxonomy's,
-- so one caller's threshold cannot move a shared OOD rate.
ALTER TABLE "scoring_records" ADD COLUMN "requested_threshold" DOUBLE PRECISION;
ALTER TABLE "scoring_records" ADD COLUMN "requested_threshold_space" TEXT;
ALTER TABLE "scoring_records" ADD COLUMN "requested_is_ood" BOOLEAN;
