-- Daily rollup of the scoring history, so dashboard statistics over months read a few hundred
-- rows instead of scanning millions. Maintained per INSERT statement from its transition table
-- (the history is append-only, so there is nothing else to follow). Histogram: 20 bins of 0.05.

CREATE TABLE "scoring_daily_stats" (
    "taxonomy_id" UUID NOT NULL,
    "taxonomy_version_id" UUID NOT NULL,
    "model_id" TEXT NOT NULL,
    "caller" TEXT NOT NULL,
    "day" TIMESTAMPTZ NOT NULL,
    "total" INTEGER NOT NULL,
    "ood" INTEGER NOT NULL,
    "score_sum" DOUBLE PRECISION NOT NULL,
    "histogram" INTEGER[] NOT NULL,
    CONSTRAINT "scoring_daily_stats_pkey" PRIMARY KEY ("taxonomy_id", "day", "taxonomy_version_id", "model_id", "caller")
);
CREATE INDEX "scoring_daily_stats_day_idx" ON "scoring_daily_stats"("day");

CREATE FUNCTION "scoring_histogram"(scores DOUBLE PRECISION[]) RETURNS INTEGER[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(c, 0) ORDER BY b)
    FROM generate_series(1, 20) AS b
    LEFT JOIN (SELECT LEAST(GREATEST(width_bucket(s, 0, 1, 20), 1), 20) AS bin, count(*)::int AS c FROM unnest(scores) AS s GROUP BY 1) h ON h.bin = b
$$;

CREATE FUNCTION "scoring_daily_stats_add"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring_daily_stats AS d (taxonomy_id, taxonomy_version_id, model_id, caller, day, total, ood, score_sum, histogram)
    SELECT taxonomy_id, taxonomy_version_id, model_id, caller, date_trunc('day', created_at, 'UTC'),
           count(*), count(*) FILTER (WHERE is_ood), sum(score), scoring_histogram(array_agg(score))
    FROM new_rows GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (taxonomy_id, day, taxonomy_version_id, model_id, caller) DO UPDATE SET
        total = d.total + EXCLUDED.total,
        ood = d.ood + EXCLUDED.ood,
        score_sum = d.score_sum + EXCLUDED.score_sum,
        histogram = (SELECT array_agg(a + b ORDER BY i) FROM unnest(d.histogram, EXCLUDED.histogram) WITH ORDINALITY AS x(a, b, i));
    RETURN NULL;
END;
$$;

CREATE TRIGGER "scoring_records_daily_stats" AFTER INSERT ON "scoring_records"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "scoring_daily_stats_add"();

INSERT INTO scoring_daily_stats (taxonomy_id, taxonomy_version_id, model_id, caller, day, total, ood, score_sum, histogram)
SELECT taxonomy_id, taxonomy_version_id, model_id, caller, date_trunc('day', created_at, 'UTC'),
       count(*), count(*) FILTER (WHERE is_ood), sum(score), scoring_histogram(array_agg(score))
FROM scoring_records GROUP BY 1, 2, 3, 4, 5;
