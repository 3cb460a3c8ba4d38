/** Mining jobs: a durable queue in Postgres (claimed with FOR UPDATE SKIP LOCKED). */
import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';

export type MiningJobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export class MiningJobRepository {
  constructor(private readonly prisma: PrismaClient, private readonly pool: pg.Pool) {}

  create(data: { taxonomyVersionId: string; modelId: string; parameters: object; parametersKey: string; createdBy: string; status?: MiningJobStatus; negativeSetId?: string }) {
    const finished = data.status === 'SUCCEEDED';
    return this.prisma.miningJob.create({
      data: { ...data, status: data.status ?? 'QUEUED', phase: finished ? 'done' : 'queued', finishedAt: finished ? new Date() : null },
    });
  }

  find(id: string) {
    return this.prisma.miningJob.findUnique({ where: { id } });
  }

  forVersion(taxonomyVersionId: string) {
    return this.prisma.miningJob.findMany({ where: { taxonomyVersionId }, orderBy: { createdAt: 'desc' } });
  }

  /** A queued or running job with the same parameters, to join instead of duplicating work. */
  findActive(taxonomyVersionId: string, parametersKey: string) {
    return this.prisma.miningJob.findFirst({ where: { taxonomyVersionId, parametersKey, status: { in: ['QUEUED', 'RUNNING'] } } });
  }

  /** Takes the oldest queued job, marking it running. */
  async claimNext() {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE mining_jobs SET status = 'RUNNING', attempts = attempts + 1, started_at = COALESCE(started_at, now()), heartbeat_at = now()
       WHERE id = (SELECT id FROM mining_jobs WHERE status = 'QUEUED' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
    );
    return rows[0] ? this.find(rows[0].id) : null;
  }

  /** Running jobs whose runner stopped heartbeating (a crashed process) go back to the queue. */
  async requeueStale(staleAfterMs: number): Promise<number> {
    const result = await this.pool.query(
      `UPDATE mining_jobs SET status = 'QUEUED', phase = 'queued' WHERE status = 'RUNNING' AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $1))`,
      [staleAfterMs / 1000],
    );
    return result.rowCount ?? 0;
  }

  async requeue(id: string): Promise<void> {
    await this.prisma.miningJob.update({ where: { id }, data: { status: 'QUEUED', phase: 'queued' } });
  }

  /** Records progress and returns whether cancellation was requested. */
  async progress(id: string, phase: string, done: number, total: number): Promise<boolean> {
    const job = await this.prisma.miningJob.update({ where: { id }, data: { phase, done, total, heartbeatAt: new Date() }, select: { cancelRequested: true } });
    return job.cancelRequested;
  }

  async finish(id: string, status: 'FAILED' | 'CANCELLED', error: string | null): Promise<void> {
    await this.prisma.miningJob.update({ where: { id }, data: { status, error, finishedAt: new Date() } });
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
