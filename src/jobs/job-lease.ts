/**
 * A mining job as one worker holds it: the only place a running job's state changes. It renews the
 * lease in the background, records progress at checkpoints (where cancellation, shutdown, a full
 * disk and a lost lease are noticed), and ends the job exactly one way: completed with its set,
 * back in the queue, cancelled or failed.
 */
import type { StorageGuard } from '../database/storage-guard.ts';
import type { Logger } from '../logger.ts';
import type { MiningJobRepository } from '../repositories/mining-job-repository.ts';
import {
  LeaseLostError,
  type NegativeSetRepository,
  type NewNegativeSet,
} from '../repositories/negative-set-repository.ts';

/** Why a job stopped at a checkpoint. */
class Interrupted extends Error {
  constructor(readonly reason: 'cancelled' | 'stopping' | 'storage-full' | 'lease-lost') {
    super(reason);
  }
}

export interface Checkpoint {
  phase: string;
  done: number;
  total: number;
}

/** What every lease of one runner shares. */
export interface LeaseContext {
  jobs: MiningJobRepository;
  sets: NegativeSetRepository;
  storage: StorageGuard;
  workerId: string;
  leaseSeconds: number;
  /** the runner is stopping: a job goes back to the queue at its next checkpoint */
  stopping: () => boolean;
  onProgress: (jobId: string, checkpoint: Checkpoint) => void;
}

export class JobLease {
  private lost = false;
  private readonly renewal: NodeJS.Timeout;

  constructor(
    private readonly context: LeaseContext,
    readonly jobId: string,
    private readonly log: Logger,
  ) {
    const { jobs, workerId, leaseSeconds } = context;
    // a long chunk or the mining math may outlast a lease: it is renewed in the background too
    this.renewal = setInterval(
      () => {
        jobs.renew(jobId, workerId, leaseSeconds).then(
          (held) => (this.lost ||= !held),
          (error) => log.warn({ err: error }, 'could not renew the mining lease'),
        );
      },
      (leaseSeconds * 1000) / 3,
    );
  }

  /** Records progress; throws when the job must stop here (see `end`). */
  async checkpoint(phase: string, done: number, total: number): Promise<void> {
    const { workerId, leaseSeconds } = this.context;
    this.context.onProgress(this.jobId, { phase, done, total });
    if (this.lost) throw new Interrupted('lease-lost');
    if (this.context.storage.status().full) throw new Interrupted('storage-full');
    const lease = await this.context.jobs.progress(this.jobId, workerId, leaseSeconds, phase, done, total);
    if (!lease) throw new Interrupted('lease-lost');
    if (lease.cancelRequested) throw new Interrupted('cancelled');
    if (this.context.stopping()) throw new Interrupted('stopping');
  }

  /** Saves the mined set, makes it the version's active set and ends the job, while the lease holds. */
  complete(set: NewNegativeSet): Promise<string> {
    return this.context.sets.saveActivateAndComplete(set, this.jobId, this.context.workerId);
  }

  /**
   * Ends a job that threw: shutdown and a full disk put it back in the queue (it resumes from the
   * corpus cache), a lost lease leaves it to the worker that owns it now, a cancellation or any
   * other error ends it.
   */
  async end(error: unknown): Promise<void> {
    const reason = error instanceof Interrupted ? error.reason : error instanceof LeaseLostError ? 'lease-lost' : null;
    if (reason === 'stopping' || reason === 'storage-full') {
      // on a full disk the reserve leaves room for this one small write
      await this.context.jobs.requeue(this.jobId, this.context.workerId).catch(() => {});
      if (reason === 'stopping') this.log.info('mining interrupted by shutdown; it resumes at the next start');
      else
        this.log.warn(
          { hint: this.context.storage.status().hint },
          'mining paused: the disk is full; it resumes from the corpus cache once space is freed',
        );
      return;
    }
    if (reason === 'lease-lost') {
      this.log.warn('mining stopped: this worker lost the lease (it expired) and another worker owns the job now');
      return;
    }
    const cancelled = reason === 'cancelled';
    await this.context.jobs
      .finish(
        this.jobId,
        this.context.workerId,
        cancelled ? 'CANCELLED' : 'FAILED',
        cancelled ? null : (error as Error).message,
      )
      .catch(() => {});
    if (cancelled) this.log.info('mining cancelled');
    else this.log.error({ err: error }, 'mining failed');
  }

  release(): void {
    clearInterval(this.renewal);
  }
}
