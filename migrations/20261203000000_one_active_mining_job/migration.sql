-- At most one queued or running mining job per (taxonomy version, parameters): identical
-- startMining calls through several API processes at once join one job instead of mining the same
-- set several times. Duplicates already queued are cancelled (the oldest of each group stays).
UPDATE "mining_jobs" j
SET "status" = 'CANCELLED', "error" = 'cancelled: an identical job was queued at the same time and runs instead',
    "finished_at" = now(), "lease_expires_at" = NULL
WHERE j."status" IN ('QUEUED', 'RUNNING') AND EXISTS (
  SELECT 1 FROM "mining_jobs" o
  WHERE o."taxonomy_version_id" = j."taxonomy_version_id" AND o."parameters_key" = j."parameters_key"
    AND o."status" IN ('QUEUED', 'RUNNING') AND (o."created_at", o."id") < (j."created_at", j."id"));

CREATE UNIQUE INDEX "mining_jobs_one_active_idx" ON "mining_jobs" ("taxonomy_version_id", "parameters_key")
  WHERE "status" IN ('QUEUED', 'RUNNING');
