/**
 * The background mining runner: takes queued jobs one at a time and runs
 * encode labels → encode corpus (cached per model, checkpointed per chunk) → mine → save.
 * A job is leased to this runner; progress is written and the lease renewed at every chunk, where
 * cancellation is honoured too. A job whose worker died is taken over by any worker once its lease
 * expires and resumes from the corpus cache; its set becomes visible only in the final
 * transaction, which commits only while the lease is still this runner's.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { hostname } from 'node:os';
import type { StorageGuard } from '../database/storage-guard.ts';
import type { Encoder } from '../inference/encoder.ts';
import type { Logger } from '../logger.ts';
import type { CorpusWord } from '../neglabel/corpus.ts';
import { candidateEmbedding, negLabelCandidates } from '../neglabel/candidates.ts';
import { CSP_EXCLUDED_LEXFILES, cspCandidates, cspLabelPrompts } from '../neglabel/csp.ts';
import type { CachedEmbedding, CorpusEmbeddingRepository } from '../repositories/corpus-embedding-repository.ts';
import type { MiningJobRepository } from '../repositories/mining-job-repository.ts';
import { LeaseLostError, type NegativeSetRepository } from '../repositories/negative-set-repository.ts';
import { stack } from '../inference/vectors.ts';
import { loadWordNetCorpus } from '../services/corpus-source.ts';
import type { MiningParameters } from '../services/mining-service.ts';
import type { TaxonomyService } from '../services/taxonomy-service.ts';
import { mineInWorker } from './mining-math.ts';

const CORPUS_CHUNK = 4096;
/** Candidates stacked between two turns of the event loop, so requests are served in between. */
const STACK_SLICE = 2048;

class Interrupted extends Error {
  constructor(readonly reason: 'cancelled' | 'stopping' | 'storage-full' | 'lease-lost') {
    super(reason);
  }
}

export class MiningRunner {
  /** who holds a lease: host, process and a random part (two runners never share an id) */
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopping = false;
  /** the running job's latest checkpoint, for metrics */
  current: { jobId: string; phase: string; done: number; total: number } | null = null;

  constructor(
    private readonly jobs: MiningJobRepository,
    private readonly sets: NegativeSetRepository,
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
  ) {}

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

  private async run(
    jobId: string,
    versionId: string,
    parametersKey: string,
    parameters: MiningParameters,
  ): Promise<void> {
    const log = this.logger.child({ job: jobId });
    const started = Date.now();
    // a long chunk or the mining math may outlast a lease: renew it in the background too
    let leaseLost = false;
    const renewal = setInterval(
      () => {
        this.jobs.renew(jobId, this.workerId, this.options.leaseSeconds).then(
          (held) => (leaseLost ||= !held),
          (error) => log.warn({ err: error }, 'could not renew the mining lease'),
        );
      },
      (this.options.leaseSeconds * 1000) / 3,
    );
    const checkpoint = async (phase: string, done: number, total: number) => {
      this.current = { jobId, phase, done, total };
      if (leaseLost) throw new Interrupted('lease-lost');
      if (this.storage.status().full) throw new Interrupted('storage-full');
      const lease = await this.jobs.progress(jobId, this.workerId, this.options.leaseSeconds, phase, done, total);
      if (!lease) throw new Interrupted('lease-lost');
      if (lease.cancelRequested) throw new Interrupted('cancelled');
      if (this.stopping) throw new Interrupted('stopping');
    };
    try {
      const version = (await this.taxonomies.versionById(versionId))!;
      const model = this.encoder.resolveModel(version.modelId);
      const dim = model.embeddingDim!;

      const csp = parameters.method === 'CSP';
      // CSP embeds ID labels with its own template ensemble; the set keeps them and scores with them
      let idEmbeddings: Float32Array[];
      if (csp) {
        const labelPrompts = version.labels.map(cspLabelPrompts);
        const embedded = await this.embedPrompts(
          version.modelId,
          labelPrompts.flat(),
          true,
          'encoding-labels',
          checkpoint,
          log,
        );
        idEmbeddings = labelPrompts.map((prompts) => candidateEmbedding(prompts, embedded, true));
      } else {
        await checkpoint('encoding-labels', 0, version.labels.length);
        idEmbeddings = await this.taxonomies.labelEmbeddings(version);
      }

      const corpus: CorpusWord[] = parameters.corpusWords ?? loadWordNetCorpus(csp ? CSP_EXCLUDED_LEXFILES : []);
      const candidates = csp
        ? cspCandidates(corpus, parameters.seed)
        : negLabelCandidates(
            corpus,
            parameters.nounPromptTemplates ?? [parameters.nounPrompt],
            parameters.adjectivePrompt,
          );
      log.info(
        { method: parameters.method ?? 'NEGLABEL', corpus: parameters.corpus, candidates: corpus.length },
        'mining: encoding corpus',
      );
      const embeddings = await this.embedPrompts(
        version.modelId,
        candidates.flatMap((c) => c.prompts),
        csp,
        'encoding-corpus',
        checkpoint,
        log,
      );

      // the parameters without a custom corpus (that is `corpus` here): what the set stores, and the
      // selection options sent to the mining thread
      const { corpusWords, ...stored } = parameters;
      await checkpoint('mining', 0, corpus.length);
      // stacked a slice at a time: in one go, 70k candidates held the request thread ~150 ms
      const wordEmbeddings: Float32Array[] = [];
      const stacked = new Float32Array(candidates.length * dim);
      for (let c = 0; c < candidates.length; c++) {
        wordEmbeddings.push(candidateEmbedding(candidates[c].prompts, embeddings, csp));
        stacked.set(wordEmbeddings[c], c * dim);
        if (c % STACK_SLICE === STACK_SLICE - 1) await nextTurn();
      }
      const { stats, mined } = await mineInWorker(
        stacked,
        stack(idEmbeddings, dim),
        dim,
        parameters.percentile,
        { corpus, idLabels: version.labels, options: stored },
        this.options.mathThreadNice,
      );
      const kept = mined.indices.length;

      await checkpoint('saving', 0, kept);
      const setId = await this.sets.saveActivateAndComplete(
        {
          taxonomyVersionId: version.id,
          modelId: version.modelId,
          parameters: stored,
          parametersKey,
          groupCount: parameters.groups,
          candidateCount: corpus.length,
          excludedCount: mined.excluded,
          idLabelEmbeddings: csp ? stack(idEmbeddings, dim) : null,
          labels: mined.indices.map((c, i) => ({
            word: candidates[c].word,
            // with an ensemble, the first template's text stands for the others (parameters list them)
            prompt: candidates[c].prompts[0],
            partOfSpeech: corpus[c].pos,
            quantileSimilarity: stats.quantile[c],
            maxSimilarity: stats.max[c],
            group: mined.group[i],
            embedding: wordEmbeddings[c],
          })),
        },
        jobId,
        this.workerId,
      );
      log.info(
        { negativeSet: setId, negatives: kept, excluded: mined.excluded, ms: Date.now() - started },
        'mining finished; set activated',
      );
    } catch (error) {
      if (error instanceof Interrupted && error.reason === 'stopping') {
        await this.jobs.requeue(jobId, this.workerId).catch(() => {});
        log.info('mining interrupted by shutdown; it resumes at the next start');
        return;
      }
      if (error instanceof Interrupted && error.reason === 'storage-full') {
        // the reserve leaves room for this one small write; the encoded chunks stay cached
        await this.jobs.requeue(jobId, this.workerId).catch(() => {});
        log.warn(
          { hint: this.storage.status().hint },
          'mining paused: the disk is full; it resumes from the corpus cache once space is freed',
        );
        return;
      }
      if ((error instanceof Interrupted && error.reason === 'lease-lost') || error instanceof LeaseLostError) {
        log.warn('mining stopped: this worker lost the lease (it expired) and another worker owns the job now');
        return;
      }
      const cancelled = error instanceof Interrupted;
      await this.jobs
        .finish(jobId, this.workerId, cancelled ? 'CANCELLED' : 'FAILED', cancelled ? null : (error as Error).message)
        .catch(() => {});
      if (cancelled) log.info('mining cancelled');
      else log.error({ err: error }, 'mining failed');
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Embeddings of distinct prompts through the model's corpus cache: cached ones are read, the rest
   * encoded in checkpointed chunks and cached. With `needNorms`, a cached row without its raw norm
   * counts as missing. Progress counts distinct prompts, cached ones as done, so a resumed job goes
   * on from where it stood.
   */
  private async embedPrompts(
    modelId: string,
    prompts: readonly string[],
    needNorms: boolean,
    phase: string,
    checkpoint: (phase: string, done: number, total: number) => Promise<void>,
    log: Logger,
  ): Promise<Map<string, CachedEmbedding>> {
    const distinct = [...new Set(prompts)];
    const embeddings = await this.corpusEmbeddings.find(modelId, distinct);
    const missing = distinct.filter((p) => {
      const cached = embeddings.get(p);
      return !cached || (needNorms && cached.norm === null);
    });
    const cached = distinct.length - missing.length;
    for (let start = 0; start < missing.length; start += CORPUS_CHUNK) {
      await checkpoint(phase, cached + start, distinct.length);
      const chunk = missing.slice(start, start + CORPUS_CHUNK);
      const encoded = await this.encoder.embedTextsBulk(modelId, chunk);
      await this.corpusEmbeddings.save(modelId, chunk, encoded);
      chunk.forEach((p, i) => {
        embeddings.set(p, { vector: encoded.vectors[i], norm: encoded.norms[i] });
      });
      const done = cached + Math.min(start + CORPUS_CHUNK, missing.length);
      log.info({ phase, done, total: distinct.length }, 'mining progress');
    }
    if (missing.length === 0) await checkpoint(phase, cached, distinct.length);
    return embeddings;
  }

  /** Stops taking jobs; a running job stops at its next checkpoint and goes back to the queue. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }
}
