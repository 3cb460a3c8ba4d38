/**
 * The background mining runner: takes queued jobs one at a time and runs the mining pipeline
 * (src/neglabel/mining-pipeline.ts): encode labels → encode corpus (cached per model, checkpointed
 * per chunk) → mine (in a math thread) → save. A job is leased to this runner (src/jobs/job-lease.ts
 * owns its state): progress is written and the lease renewed at every chunk, where cancellation is
 * honoured too. A job whose worker died is taken over by any worker once its lease expires and
 * resumes from the corpus cache; its set becomes visible only in the final transaction, which
 * commits only while the lease is still this runner's.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageGuard } from '../database/storage-guard.ts';
import type { Encoder } from '../inference/encoder.ts';
import { stack } from '../inference/vectors.ts';
import type { Logger } from '../logger.ts';
import type { CorpusWord } from '../neglabel/corpus.ts';
import {
  distinctPrompts,
  excludedLexfiles,
  minedLabels,
  ownIdLabelPrompts,
  planMining,
  stackEmbeddings,
  type MiningPlan,
} from '../neglabel/mining-pipeline.ts';
import type { CachedEmbedding, CorpusEmbeddingRepository } from '../repositories/corpus-embedding-repository.ts';
import type { MiningJobRepository } from '../repositories/mining-job-repository.ts';
import type { NegativeSetRepository } from '../repositories/negative-set-repository.ts';
import type { TaxonomyVersionRow } from '../repositories/taxonomy-repository.ts';
import { loadWordNetCorpus } from '../services/corpus-source.ts';
import type { MiningParameters } from '../services/mining-service.ts';
import type { TaxonomyService } from '../services/taxonomy-service.ts';
import { type Checkpoint, JobLease, type LeaseContext } from './job-lease.ts';
import { mineInWorker } from './mining-math.ts';

const CORPUS_CHUNK = 4096;

export class MiningRunner {
  /** who holds a lease: host, process and a random part (two runners never share an id) */
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopping = false;
  /** the running job's latest checkpoint, for metrics */
  current: ({ jobId: string } & Checkpoint) | null = null;
  private readonly leaseContext: LeaseContext;

  constructor(
    private readonly jobs: MiningJobRepository,
    sets: NegativeSetRepository,
    private readonly corpusEmbeddings: CorpusEmbeddingRepository,
    private readonly taxonomies: TaxonomyService,
    private readonly encoder: Encoder,
    private readonly storage: StorageGuard,
    private readonly logger: Logger,
    private readonly options: {
      pollMs: number;
      leaseSeconds: number;
      /** the database is this process's alone (all-in-one embedded): leases left at start are dead */
      soleWorker: boolean;
      /** nice value of the mining-math thread (Linux) */
      mathThreadNice: number;
    },
  ) {
    this.leaseContext = {
      jobs,
      sets,
      storage,
      workerId: this.workerId,
      leaseSeconds: options.leaseSeconds,
      stopping: () => this.stopping,
      onProgress: (jobId, checkpoint) => {
        this.current = { jobId, ...checkpoint };
      },
    };
  }

  async start(): Promise<void> {
    if (this.options.soleWorker) {
      const resumed = await this.jobs.expireAllLeases();
      if (resumed > 0) this.logger.warn({ resumed }, 'mining jobs interrupted by a previous stop resume now');
    }
    this.timer = setInterval(() => this.poke(), this.options.pollMs);
    this.poke();
  }

  /** Looks for work now (called when a job is queued). */
  poke(): void {
    if (this.running || this.stopping) return;
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    // on a full disk no job starts: the poll timer looks again once space is back
    while (!this.stopping && !this.storage.status().full) {
      const job = await this.jobs.claimNext(this.workerId, this.options.leaseSeconds).catch((error) => {
        this.logger.error({ err: error }, 'could not claim a mining job');
        return null;
      });
      if (!job) return;
      await this.run(job.id, job.taxonomyVersionId, job.parametersKey, job.parameters as unknown as MiningParameters);
      this.current = null;
    }
  }

  /** A job's steps: ID labels, candidates, the math, the saved set; the lease owns its state. */
  private async run(jobId: string, versionId: string, parametersKey: string, parameters: MiningParameters) {
    const log = this.logger.child({ job: jobId });
    const lease = new JobLease(this.leaseContext, jobId, log);
    const started = Date.now();
    try {
      const version = (await this.taxonomies.versionById(versionId))!;
      const dim = this.encoder.resolveModel(version.modelId).embeddingDim!;
      const corpus: CorpusWord[] = parameters.corpusWords ?? loadWordNetCorpus(excludedLexfiles(parameters));
      const plan = planMining(parameters, corpus);
      const ownIdPrompts = ownIdLabelPrompts(parameters, version.labels);
      const idEmbeddings = await this.idLabelEmbeddings(version, ownIdPrompts, plan, dim, lease, log);
      log.info(
        { method: parameters.method ?? 'NEGLABEL', corpus: parameters.corpus, candidates: corpus.length },
        'mining: encoding corpus',
      );
      const promptLists = plan.candidates.map((c) => c.prompts);
      const embedded = await this.embedPrompts(
        version.modelId,
        promptLists,
        plan.rawMean,
        'encoding-corpus',
        lease,
        log,
      );
      // the parameters without a custom corpus (that is `corpus` here): what the set stores, and the
      // selection options sent to the mining thread
      const { corpusWords, ...stored } = parameters;
      await lease.checkpoint('mining', 0, corpus.length);
      const { stats, mined } = await mineInWorker(
        await stackEmbeddings(promptLists, embedded, plan.rawMean, dim),
        idEmbeddings.slice(), // transferred to the math thread: the set may keep the original
        dim,
        parameters.percentile,
        { corpus, idLabels: version.labels, options: stored },
        this.options.mathThreadNice,
      );
      await lease.checkpoint('saving', 0, mined.indices.length);
      const setId = await lease.complete({
        taxonomyVersionId: version.id,
        modelId: version.modelId,
        parameters: stored,
        parametersKey,
        groupCount: parameters.groups,
        candidateCount: corpus.length,
        excludedCount: mined.excluded,
        // a method that embeds its ID labels itself scores with them: the set keeps them
        idLabelEmbeddings: ownIdPrompts ? idEmbeddings : null,
        labels: minedLabels(plan, stats, mined, embedded),
      });
      log.info(
        { negativeSet: setId, negatives: mined.indices.length, excluded: mined.excluded, ms: Date.now() - started },
        'mining finished; set activated',
      );
    } catch (error) {
      await lease.end(error);
    } finally {
      lease.release();
    }
  }

  /** The ID labels' embeddings, stacked: from the method's own prompts (CSP), else the taxonomy's. */
  private async idLabelEmbeddings(
    version: TaxonomyVersionRow,
    own: string[][] | null,
    plan: MiningPlan,
    dim: number,
    lease: JobLease,
    log: Logger,
  ): Promise<Float32Array> {
    if (!own) {
      await lease.checkpoint('encoding-labels', 0, version.labels.length);
      return stack(await this.taxonomies.labelEmbeddings(version), dim);
    }
    const embedded = await this.embedPrompts(version.modelId, own, plan.rawMean, 'encoding-labels', lease, log);
    return stackEmbeddings(own, embedded, plan.rawMean, dim);
  }

  /**
   * Embeddings of distinct prompts through the model's corpus cache: cached ones are read, the rest
   * encoded in checkpointed chunks and cached. With `needNorms`, a cached row without its raw norm
   * counts as missing. Progress counts distinct prompts, cached ones as done, so a resumed job goes
   * on from where it stood.
   */
  private async embedPrompts(
    modelId: string,
    promptLists: ReadonlyArray<readonly string[]>,
    needNorms: boolean,
    phase: string,
    lease: JobLease,
    log: Logger,
  ): Promise<Map<string, CachedEmbedding>> {
    const distinct = distinctPrompts(promptLists);
    const embeddings = await this.corpusEmbeddings.find(modelId, distinct);
    const missing = distinct.filter((p) => {
      const cached = embeddings.get(p);
      return !cached || (needNorms && cached.norm === null);
    });
    const cached = distinct.length - missing.length;
    for (let start = 0; start < missing.length; start += CORPUS_CHUNK) {
      await lease.checkpoint(phase, cached + start, distinct.length);
      const chunk = missing.slice(start, start + CORPUS_CHUNK);
      const encoded = await this.encoder.embedTextsBulk(modelId, chunk);
      await this.corpusEmbeddings.save(modelId, chunk, encoded);
      chunk.forEach((p, i) => {
        embeddings.set(p, { vector: encoded.vectors[i], norm: encoded.norms[i] });
      });
      const done = cached + Math.min(start + CORPUS_CHUNK, missing.length);
      log.info({ phase, done, total: distinct.length }, 'mining progress');
    }
    if (missing.length === 0) await lease.checkpoint(phase, cached, distinct.length);
    return embeddings;
  }

  /** Stops taking jobs; a running job stops at its next checkpoint and goes back to the queue. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }
}
