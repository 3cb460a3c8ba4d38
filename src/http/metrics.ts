/**
 * Prometheus metrics (GET /metrics) and the per-operation log line: GraphQL operation counts and
 * latency, encoder runs and batch sizes, encoder request time in the worker pool (queue wait
 * included), mining job progress, database pool use, and the process defaults.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import client from 'prom-client';
import type pg from 'pg';
import type { Encoder } from '../inference/encoder.ts';
import type { Logger } from '../logger.ts';
import type { GraphQLContext } from '../graphql/context.ts';

export interface MetricsSources {
  encoder: Encoder;
  pool: pg.Pool;
  miningProgress: () => { jobId: string; phase: string; done: number; total: number } | null;
}

export function createMetrics(sources: MetricsSources) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'neglabel_' });
  const operations = new client.Counter({ name: 'neglabel_graphql_operations_total', help: 'GraphQL operations by root field and outcome', labelNames: ['operation', 'outcome'], registers: [registry] });
  const latency = new client.Histogram({
    name: 'neglabel_graphql_operation_seconds', help: 'GraphQL operation latency by root field', labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  new client.Gauge({
    name: 'neglabel_encoder_runs', help: 'ONNX session runs since start, by modality', labelNames: ['modality'], registers: [registry],
    collect() {
      const s = sources.encoder.stats();
      this.set({ modality: 'text' }, s.textRuns);
      this.set({ modality: 'image' }, s.imageRuns);
    },
  });
  new client.Gauge({
    name: 'neglabel_encoder_batch_size_runs', help: 'ONNX session runs since start by batch size', labelNames: ['modality', 'batch_size'], registers: [registry],
    collect() {
      const s = sources.encoder.stats();
      for (const [size, runs] of s.imageBatchSizes) this.set({ modality: 'image', batch_size: String(size) }, runs);
      for (const [size, runs] of s.textBatchSizes) this.set({ modality: 'text', batch_size: String(size) }, runs);
    },
  });
  new client.Gauge({
    name: 'neglabel_encoder_cache_hits', help: 'embedding cache hits since start', labelNames: ['modality'], registers: [registry],
    collect() {
      const s = sources.encoder.stats();
      this.set({ modality: 'text' }, s.textCacheHits);
      this.set({ modality: 'image' }, s.imageCacheHits);
    },
  });
  new client.Gauge({
    name: 'neglabel_encoder_request_seconds_sum', help: 'total time of worker-pool requests (queue wait included) and their count', labelNames: ['stat'], registers: [registry],
    collect() {
      const s = sources.encoder.stats();
      this.set({ stat: 'seconds' }, s.workerSeconds);
      this.set({ stat: 'count' }, s.workerRequests);
      this.set({ stat: 'in_flight' }, s.workerInFlight);
    },
  });
  new client.Gauge({
    name: 'neglabel_mining_job_progress', help: 'progress (0..1) of the running mining job', labelNames: ['job', 'phase'], registers: [registry],
    collect() {
      this.reset();
      const p = sources.miningProgress();
      if (p) this.set({ job: p.jobId, phase: p.phase }, p.total > 0 ? p.done / p.total : 0);
    },
  });
  new client.Gauge({
    name: 'neglabel_db_pool_connections', help: 'database pool connections by state', labelNames: ['state'], registers: [registry],
    collect() {
      this.set({ state: 'total' }, sources.pool.totalCount);
      this.set({ state: 'idle' }, sources.pool.idleCount);
      this.set({ state: 'waiting' }, sources.pool.waitingCount);
    },
  });

  /** Counts and times each operation, and logs one line per operation with its request id. */
  function plugin(logger: Logger): ApolloServerPlugin<GraphQLContext> {
    return {
      async requestDidStart({ contextValue }) {
        const started = performance.now();
        return {
          async willSendResponse({ operation, errors }) {
            const fields = operation?.selectionSet.selections.map((s) => (s.kind === 'Field' ? s.name.value : s.kind)).join(',') || 'invalid';
            const seconds = (performance.now() - started) / 1000;
            const codes = (errors ?? []).map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
            operations.inc({ operation: fields, outcome: codes.length ? 'error' : 'ok' });
            latency.observe({ operation: fields }, seconds);
            logger.info({ operation: fields, ms: Math.round(seconds * 1000), caller: contextValue.auth?.name, errors: codes.length ? codes : undefined }, 'graphql operation');
          },
        };
      },
    };
  }

  return { registry, plugin };
}
