-- The daily rollup is written by a trigger on scoring_records. Running its function as its owner
-- (the migration role) lets the service's runtime role hold only SELECT and INSERT on the history
-- and nothing on the rollup's writes (docs/database-roles.sql). The search path is pinned, as a
-- SECURITY DEFINER function must.
ALTER FUNCTION "scoring_daily_stats_add"() SECURITY DEFINER SET search_path FROM CURRENT;
