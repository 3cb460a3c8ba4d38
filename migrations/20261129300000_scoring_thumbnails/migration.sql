-- Optional thumbnails for audit: a taxonomy may keep a small WebP of each image it scores, for a
-- retention period. They live beside the append-only history, not in it, so that retention can
-- delete them.
ALTER TABLE "taxonomies" ADD COLUMN "store_thumbnails" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "taxonomies" ADD COLUMN "thumbnail_retention_days" INTEGER NOT NULL DEFAULT 30;
CREATE TABLE "scoring_thumbnails" (
    "record_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "image" BYTEA NOT NULL,
    CONSTRAINT "scoring_thumbnails_pkey" PRIMARY KEY ("record_id"),
    CONSTRAINT "scoring_thumbnails_record_id_fkey" FOREIGN KEY ("record_id") REFERENCES "scoring_records"("id")
);
CREATE INDEX "scoring_thumbnails_created_at_idx" ON "scoring_thumbnails"("created_at");
