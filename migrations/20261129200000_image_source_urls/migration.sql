-- An image scored from a URL (ImageInput.url) keeps the URL in its record.
ALTER TABLE "scoring_records" ADD COLUMN "source_url" TEXT;
