-- Initial schema: taxonomies, embeddings (pgvector), mining jobs, negative label sets and the
-- append-only scoring history. Vector columns are untyped `vector`: each model has its own width,
-- and per-model HNSW indexes are created on a cast to that width when the model is first used.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE "taxonomies" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    "default_threshold" DOUBLE PRECISION NOT NULL DEFAULT 0.5,
    CONSTRAINT "taxonomies_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "taxonomies_name_key" ON "taxonomies"("name");

CREATE TABLE "taxonomy_versions" (
    "id" UUID NOT NULL,
    "taxonomy_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "labels" TEXT[],
    "prompt_template" TEXT NOT NULL,
    "model_id" TEXT NOT NULL,
    "active_negative_set_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    CONSTRAINT "taxonomy_versions_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "taxonomy_versions_active_negative_set_id_key" ON "taxonomy_versions"("active_negative_set_id");
CREATE UNIQUE INDEX "taxonomy_versions_taxonomy_id_version_key" ON "taxonomy_versions"("taxonomy_id", "version");

CREATE TABLE "label_embeddings" (
    "taxonomy_version_id" UUID NOT NULL,
    "model_id" TEXT NOT NULL,
    "label_index" INTEGER NOT NULL,
    "prompt" TEXT NOT NULL,
    "embedding" vector NOT NULL,
    CONSTRAINT "label_embeddings_pkey" PRIMARY KEY ("taxonomy_version_id", "model_id", "label_index")
);

CREATE TABLE "corpus_embeddings" (
    "model_id" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "embedding" vector NOT NULL,
    CONSTRAINT "corpus_embeddings_pkey" PRIMARY KEY ("model_id", "prompt")
);

CREATE TABLE "negative_label_sets" (
    "id" UUID NOT NULL,
    "taxonomy_version_id" UUID NOT NULL,
    "model_id" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "parameters_key" TEXT NOT NULL,
    "label_count" INTEGER NOT NULL,
    "group_count" INTEGER NOT NULL,
    "candidate_count" INTEGER NOT NULL,
    "excluded_count" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "negative_label_sets_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "negative_label_sets_taxonomy_version_id_parameters_key_idx" ON "negative_label_sets"("taxonomy_version_id", "parameters_key");

CREATE TABLE "negative_labels" (
    "set_id" UUID NOT NULL,
    "rank" INTEGER NOT NULL,
    "word" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "part_of_speech" TEXT NOT NULL,
    "quantile_similarity" REAL NOT NULL,
    "max_similarity" REAL NOT NULL,
    "group_index" INTEGER NOT NULL,
    "embedding" vector NOT NULL,
    CONSTRAINT "negative_labels_pkey" PRIMARY KEY ("set_id", "rank")
);

CREATE TABLE "mining_jobs" (
    "id" UUID NOT NULL,
    "taxonomy_version_id" UUID NOT NULL,
    "model_id" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "parameters_key" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "phase" TEXT NOT NULL,
    "done" INTEGER NOT NULL DEFAULT 0,
    "total" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "negative_set_id" UUID,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "heartbeat_at" TIMESTAMPTZ(3),
    CONSTRAINT "mining_jobs_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "mining_jobs_status_created_at_idx" ON "mining_jobs"("status", "created_at");

CREATE TABLE "scoring_records" (
    "id" BIGSERIAL NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "caller" TEXT NOT NULL,
    "taxonomy_id" UUID NOT NULL,
    "taxonomy_version_id" UUID NOT NULL,
    "negative_set_id" UUID NOT NULL,
    "model_id" TEXT NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "image_hash" TEXT NOT NULL,
    "filename" TEXT,
    "image_embedding" vector NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "logit_score" DOUBLE PRECISION NOT NULL,
    "is_ood" BOOLEAN NOT NULL,
    "predicted_label" TEXT NOT NULL,
    "top_labels" JSONB NOT NULL,
    "top_negatives" JSONB NOT NULL,
    "latency_ms" DOUBLE PRECISION NOT NULL,
    CONSTRAINT "scoring_records_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "scoring_records_taxonomy_id_id_idx" ON "scoring_records"("taxonomy_id", "id");
CREATE INDEX "scoring_records_created_at_idx" ON "scoring_records"("created_at");
CREATE INDEX "scoring_records_caller_id_idx" ON "scoring_records"("caller", "id");

ALTER TABLE "taxonomy_versions" ADD CONSTRAINT "taxonomy_versions_taxonomy_id_fkey" FOREIGN KEY ("taxonomy_id") REFERENCES "taxonomies"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "taxonomy_versions" ADD CONSTRAINT "taxonomy_versions_active_negative_set_id_fkey" FOREIGN KEY ("active_negative_set_id") REFERENCES "negative_label_sets"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "label_embeddings" ADD CONSTRAINT "label_embeddings_taxonomy_version_id_fkey" FOREIGN KEY ("taxonomy_version_id") REFERENCES "taxonomy_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "negative_label_sets" ADD CONSTRAINT "negative_label_sets_taxonomy_version_id_fkey" FOREIGN KEY ("taxonomy_version_id") REFERENCES "taxonomy_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "negative_labels" ADD CONSTRAINT "negative_labels_set_id_fkey" FOREIGN KEY ("set_id") REFERENCES "negative_label_sets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "mining_jobs" ADD CONSTRAINT "mining_jobs_taxonomy_version_id_fkey" FOREIGN KEY ("taxonomy_version_id") REFERENCES "taxonomy_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "mining_jobs" ADD CONSTRAINT "mining_jobs_negative_set_id_fkey" FOREIGN KEY ("negative_set_id") REFERENCES "negative_label_sets"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- The scoring history is an audit trail: refuse to change or remove it. (append_only() serves
-- every append-only table.)
CREATE FUNCTION "append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER "scoring_records_no_update_delete" BEFORE UPDATE OR DELETE ON "scoring_records"
    FOR EACH ROW EXECUTE FUNCTION "append_only"();
CREATE TRIGGER "scoring_records_no_truncate" BEFORE TRUNCATE ON "scoring_records"
    FOR EACH STATEMENT EXECUTE FUNCTION "append_only"();
