/**
 * Prometheus metrics (GET /metrics) and the per-operation log line: GraphQL operation counts and
 * latency, decisions and scores per taxonomy, encoder runs and batch sizes, encoder request time
 * in the worker pool (queue wait included), mining job progress, database pool use, and the process
 * defaults.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import client from 'prom-client';
import type pg from 'pg';
import type { Encoder } from '../inference/encoder.ts';
import type { ScoringService } from '../services/scoring-service.ts';
import { requestScope, type Logger } from '../logger.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { errorCode } from '../graphql/errors.ts';

/**
 * Label values come from fixed sets only, so no caller can grow the metrics: an operation is its
 * one root field when that is a field of the schema, else `multiple` or `invalid`; an error code
 * that is not a plain upper-case code is `OTHER`.
 */
function operationLabel(
  selections: readonly { kind: string; name?: { value: string } }[] | undefined,
  rootFields: ReadonlySet<string>,
): string {
  if (!selections || selections.length === 0) return 'invalid';
  const names = new Set(selections.map((s) => (s.kind === 'Field' ? s.name!.value : '')));
  if (names.size > 1) return 'multiple';
  const [name] = names;
  return rootFields.has(name) ? name : 'invalid';
}

const codeLabel = (code: string) => (/^[A-Z][A-Z_]{0,39}$/.test(code) ? code : 'OTHER');

/**
 * Taxonomies with series of their own; decisions of any further taxonomy count under `other`
 * (taxonomies are few in practice; the bound keeps a runaway script from growing the metrics).
 */
const MAX_TAXONOMY_SERIES = 200;

export interface MetricsSources {
  encoder: Encoder;
  scoring: Pick<ScoringService, 'onRecorded'>;
  /** the schema's Query and Mutation field names: the only operation label values */
  rootFields: ReadonlySet<string>;
  pool: pg.Pool;
  miningProgress: () => { jobId: string; phase: string; done: number; total: number } | null;
  /** what waits to be sealed into the history log */
  historyBacklog: () => Promise<{ rows: number; oldestSeconds: number }>;
}

export function createMetrics(sources: MetricsSources) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'neglabel_' });
  const operations = new client.Counter({
    name: 'neglabel_graphql_operations_total',
    help: 'GraphQL operations by root field (and /v1 requests by route), outcome and error code (ok: none)',
    labelNames: ['operation', 'outcome', 'code'],
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'neglabel_graphql_operation_seconds',
    help: 'GraphQL operation latency by root field (and /v1 requests by route), from arrival to answer',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  /** A gauge whose labelled values are read from a snapshot at scrape time. */
  const snapshotGauge = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => Array<[Record<string, string>, number]>,
  ) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  const encoder = () => sources.encoder.stats();
  snapshotGauge('neglabel_encoder_runs', 'ONNX session runs since start, by modality', ['modality'], () => {
    const s = encoder();
    return [
      [{ modality: 'text' }, s.textRuns],
      [{ modality: 'image' }, s.imageRuns],
    ];
  });
  snapshotGauge(
    'neglabel_encoder_batch_size_runs',
    'ONNX session runs since start by batch size',
    ['modality', 'batch_size'],
    () => {
      const s = encoder();
      return [
        ...[...s.imageBatchSizes].map(([size, runs]): [Record<string, string>, number] => [
          { modality: 'image', batch_size: String(size) },
          runs,
        ]),
        ...[...s.textBatchSizes].map(([size, runs]): [Record<string, string>, number] => [
          { modality: 'text', batch_size: String(size) },
          runs,
        ]),
      ];
    },
  );
  new client.Gauge({
    name: 'neglabel_encoder_worker_scoring_heads',
    help: 'scoring heads (label banks of taxonomies in use) each encoder worker holds: what bounds its memory',
    labelNames: ['worker'],
    registers: [registry],
    async collect() {
      const counts = await sources.encoder.headsPerWorker().catch(() => []);
      this.reset();
      for (const [worker, count] of counts.entries()) this.set({ worker: String(worker) }, count);
    },
  });
  // the verifiable history: a sealer that stopped shows as records waiting ever longer
  const readBacklog = () => sources.historyBacklog().catch(() => null);
  new client.Gauge({
    name: 'neglabel_history_unsealed_records',
    help: 'committed scoring records and audit entries not yet sealed into the history log',
    registers: [registry],
    async collect() {
      const b = await readBacklog();
      if (b) this.set(b.rows);
    },
  });
  new client.Gauge({
    name: 'neglabel_history_unsealed_oldest_seconds',
    help: 'age of the oldest record or audit entry waiting to be sealed (0: none waits)',
    registers: [registry],
    async collect() {
      const b = await readBacklog();
      if (b) this.set(b.oldestSeconds);
    },
  });
  // what the history records, per taxonomy: what an alert on an OOD-rate jump reads
  const decisions = new client.Counter({
    name: 'neglabel_scoring_decisions_total',
    help: 'scoring decisions written to the history, by taxonomy (its name) and decision (ID or OOD)',
    labelNames: ['taxonomy', 'decision'],
    registers: [registry],
  });
  const scores = new client.Histogram({
    name: 'neglabel_scoring_score',
    help: 'NegLabel scores written to the history, by taxonomy (its name)',
    labelNames: ['taxonomy'],
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    registers: [registry],
  });
  const taxonomiesSeen = new Set<string>();
  sources.scoring.onRecorded((recorded) => {
    for (const { taxonomy: name, isOod, score } of recorded) {
      if (taxonomiesSeen.size < MAX_TAXONOMY_SERIES) taxonomiesSeen.add(name);
      const taxonomy = taxonomiesSeen.has(name) ? name : 'other';
      decisions.inc({ taxonomy, decision: isOod ? 'OOD' : 'ID' });
      scores.observe({ taxonomy }, score);
    }
  });
  // how batches form, per model and modality: run sizes, each item's wait from its request to its
  // session run (queue time, apart from compute), compute time per run, and work shed at deadlines
  const batchSize = new client.Histogram({
    name: 'neglabel_encoder_batch_size',
    help: 'items per ONNX session run',
    labelNames: ['model', 'kind'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const queueSeconds = new client.Histogram({
    name: 'neglabel_encoder_queue_seconds',
    help: "an item's wait from its request's arrival to the start of its session run",
    labelNames: ['model', 'kind'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const computeSeconds = new client.Histogram({
    name: 'neglabel_encoder_compute_seconds',
    help: 'duration of one ONNX session run',
    labelNames: ['model', 'kind'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const shed = new client.Counter({
    name: 'neglabel_encoder_deadline_shed_total',
    help: 'items dropped unencoded because their request deadline passed (DEADLINE_EXCEEDED)',
    labelNames: ['model', 'kind'],
    registers: [registry],
  });
  sources.encoder.subscribe((event) => {
    const labels = { model: event.model, kind: event.kind };
    if (event.type === 'shed') {
      shed.inc(labels, event.count);
      return;
    }
    batchSize.observe(labels, event.size);
    computeSeconds.observe(labels, event.computeSeconds);
    for (const wait of event.queueSeconds) queueSeconds.observe(labels, Math.max(0, wait));
  });
  // text cache hits only: an image cache-hit counter would tell one tenant whether another had
  // sent the same picture
  snapshotGauge('neglabel_encoder_cache_hits', 'text embedding cache hits since start', ['modality'], () => [
    [{ modality: 'text' }, encoder().textCacheHits],
  ]);
  snapshotGauge(
    'neglabel_encoder_request_seconds_sum',
    'total time of worker-pool requests (queue wait included) and their count',
    ['stat'],
    () => {
      const s = encoder();
      return [
        [{ stat: 'seconds' }, s.workerSeconds],
        [{ stat: 'count' }, s.workerRequests],
        [{ stat: 'in_flight' }, s.workerInFlight],
      ];
    },
  );
  snapshotGauge('neglabel_mining_job_progress', 'progress (0..1) of the running mining job', ['job', 'phase'], () => {
    const p = sources.miningProgress();
    return p ? [[{ job: p.jobId, phase: p.phase }, p.total > 0 ? p.done / p.total : 0]] : [];
  });
  snapshotGauge('neglabel_db_pool_connections', 'database pool connections by state', ['state'], () => [
    [{ state: 'total' }, sources.pool.totalCount],
    [{ state: 'idle' }, sources.pool.idleCount],
    [{ state: 'waiting' }, sources.pool.waitingCount],
  ]);

  /** Counts and times each operation, and logs one line per operation with its request id. */
  /**
   * Counts, times and logs one operation, from the request's arrival (authentication and body
   * parsing included) to its answer: a GraphQL operation, or an HTTP route such as /v1/embeddings.
   */
  function observe(
    logger: Logger,
    label: string,
    codes: readonly string[],
    caller: string | undefined,
    message: string,
    started = requestScope.getStore()?.arrivedAt ?? performance.now(),
  ): void {
    const seconds = (performance.now() - started) / 1000;
    operations.inc({
      operation: label,
      outcome: codes.length ? 'error' : 'ok',
      code: codes.length ? codeLabel(codes[0]) : 'none',
    });
    latency.observe({ operation: label }, seconds);
    logger.info(
      { operation: label, ms: Math.round(seconds * 1000), caller, errors: codes.length ? codes : undefined },
      message,
    );
  }

  function plugin(logger: Logger): ApolloServerPlugin<GraphQLContext> {
    return {
      async requestDidStart({ contextValue }) {
        const started = requestScope.getStore()?.arrivedAt ?? performance.now();
        return {
          async willSendResponse({ operation, errors }) {
            const label = operationLabel(operation?.selectionSet.selections as never, sources.rootFields);
            const codes = (errors ?? []).map(errorCode);
            observe(logger, label, codes, contextValue.auth?.name, 'graphql operation', started);
          },
        };
      },
    };
  }

  return { registry, plugin, observe };
}
