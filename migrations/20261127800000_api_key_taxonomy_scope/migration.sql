-- A scorer or auditor key may be limited to some taxonomies (a product line's service sees and
-- scores only its own). Empty: every taxonomy.
ALTER TABLE "api_keys" ADD COLUMN "taxonomy_ids" UUID[] NOT NULL DEFAULT '{}';
