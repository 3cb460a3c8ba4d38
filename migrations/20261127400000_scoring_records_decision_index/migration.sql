-- Dashboards page through one taxonomy's ID or OOD decisions, newest first: without this index
-- that query walked the primary key backwards past every other taxonomy's and decision's rows.
CREATE INDEX "scoring_records_taxonomy_id_is_ood_id_idx" ON "scoring_records"("taxonomy_id", "is_ood", "id");
