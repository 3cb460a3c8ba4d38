-- Mining jobs are leased: the worker that runs a job holds it until lease_expires_at and renews it
-- at every checkpoint; any worker may take over a job whose lease expired (a process that died).
ALTER TABLE "mining_jobs" ADD COLUMN "leased_by" TEXT;
ALTER TABLE "mining_jobs" ADD COLUMN "lease_expires_at" TIMESTAMPTZ(3);
-- jobs running under the heartbeat rule get a lease that is already over: the next worker resumes them
UPDATE "mining_jobs" SET "lease_expires_at" = now() WHERE "status" = 'RUNNING';
CREATE INDEX "mining_jobs_status_lease_expires_at_idx" ON "mining_jobs"("status", "lease_expires_at");
