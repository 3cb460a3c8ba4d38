/** Mining jobs: a durable queue in Postgres, leased to workers (claimed with FOR UPDATE SKIP LOCKED). */
import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';

export type MiningJobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export class MiningJobRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /**
   * A new job, or, when an identical one (same version and parameters) is queued or running
   * already, that one: the database holds at most one such job, whichever process asks.
   */
  async create(data: {
    taxonomyVersionId: string;
    modelId: string;
    parameters: object;
    parametersKey: string;
    createdBy: string;
    status?: MiningJobStatus;
    negativeSetId?: string;
  }) {
    const finished = data.status === 'SUCCEEDED';
    try {
      return await this.prisma.miningJob.create({
        data: {
          ...data,
          status: data.status ?? 'QUEUED',
          phase: finished ? 'done' : 'queued',
          finishedAt: finished ? new Date() : null,
        },
      });
    } catch (error) {
      const active = finished ? null : await this.findActive(data.taxonomyVersionId, data.parametersKey);
      if (active) return active;
      throw error;
    }
  }

  find(id: string) {
    return this.prisma.miningJob.findUnique({ where: { id } });
  }

  forVersion(taxonomyVersionId: string) {
    return this.prisma.miningJob.findMany({ where: { taxonomyVersionId }, orderBy: { createdAt: 'desc' } });
  }

  /** A queued or running job with the same parameters, to join instead of duplicating work. */
  findActive(taxonomyVersionId: string, parametersKey: string) {
    return this.prisma.miningJob.findFirst({
      where: { taxonomyVersionId, parametersKey, status: { in: ['QUEUED', 'RUNNING'] } },
    });
  }

  /**
   * Leases the oldest job that is queued, or running under a lease that expired (its worker died),
   * to `worker` for `leaseSeconds`. SKIP LOCKED: two workers never take the same job.
   */
  async claimNext(worker: string, leaseSeconds: number) {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE mining_jobs SET status = 'RUNNING', attempts = attempts + 1, started_at = COALESCE(started_at,
         now()), heartbeat_at = now(),
         leased_by = $1, lease_expires_at = now() + make_interval(secs => $2)
       WHERE id = (SELECT id FROM mining_jobs WHERE status = 'QUEUED' OR (status = 'RUNNING'
         AND lease_expires_at < now())
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [worker, leaseSeconds],
    );
    return rows[0] ? this.find(rows[0].id) : null;
  }

  /**
   * Ends every running job's lease now. Only for a database this process alone uses (the
   * all-in-one embedded mode): whoever held those leases died with the previous process.
   */
  async expireAllLeases(): Promise<number> {
    const result = await this.pool.query(`UPDATE mining_jobs SET lease_expires_at = now() WHERE status = 'RUNNING'`);
    return result.rowCount ?? 0;
  }

  /** Puts a job this worker holds back in the queue (shutdown, full disk). */
  async requeue(id: string, worker: string): Promise<void> {
    await this.pool.query(
      `UPDATE mining_jobs SET status = 'QUEUED', phase = 'queued', leased_by = NULL, lease_expires_at = NULL WHERE ` +
        `id = $1 AND leased_by = $2`,
      [id, worker],
    );
  }

  /**
   * Records progress and renews the lease. Returns null when the lease is no longer this worker's
   * (it expired and another worker took the job over), else whether cancellation was requested.
   */
  async progress(
    id: string,
    worker: string,
    leaseSeconds: number,
    phase: string,
    done: number,
    total: number,
  ): Promise<{ cancelRequested: boolean } | null> {
    const { rows } = await this.pool.query<{ cancel_requested: boolean }>(
      `UPDATE mining_jobs SET phase = $3, done = $4, total = $5, heartbeat_at = now(),
         lease_expires_at = now() + make_interval(secs => $6)
       WHERE id = $1 AND leased_by = $2 AND status = 'RUNNING' RETURNING cancel_requested`,
      [id, worker, phase, done, total, leaseSeconds],
    );
    return rows[0] ? { cancelRequested: rows[0].cancel_requested } : null;
  }

  /** Extends this worker's lease between checkpoints; false if the lease is no longer its. */
  async renew(id: string, worker: string, leaseSeconds: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE mining_jobs SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => $3) WHERE id ` +
        `= $1 AND leased_by = $2 AND status = 'RUNNING'`,
      [id, worker, leaseSeconds],
    );
    return result.rowCount === 1;
  }

  async finish(id: string, worker: string, status: 'FAILED' | 'CANCELLED', error: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE mining_jobs SET status = $3, error = $4, finished_at = now(), lease_expires_at = NULL WHERE id = $1 ` +
        `AND leased_by = $2`,
      [id, worker, status, error],
    );
  }

  /** Queued jobs are cancelled at once; running ones at their next checkpoint. */
  async requestCancel(id: string) {
    await this.pool.query(
      `UPDATE mining_jobs SET cancel_requested = true,
         status = CASE WHEN status = 'QUEUED' THEN 'CANCELLED' ELSE status END,
         finished_at = CASE WHEN status = 'QUEUED' THEN now() ELSE finished_at END
       WHERE id = $1`,
      [id],
    );
    return this.find(id);
  }
}
