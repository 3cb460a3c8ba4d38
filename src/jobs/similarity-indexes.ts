/**
 * Builds each loaded model's similarity (HNSW) index over the scoring history in the background,
 * at start-up: never on a request path, where a first build on a large history took minutes and
 * held a lock every other process's inserts queued behind. Similarity search works without the
 * index meanwhile (a scan). While another process builds an index, this one looks again later.
 */
import type { ModelStatus } from '../inference/encoder.ts';
import type { Logger } from '../logger.ts';
import type { ScoringRecordRepository } from '../repositories/scoring-record-repository.ts';

export interface SimilarityIndexBuilds {
  /** settles when every index exists, or could not be built */
  done: Promise<void>;
  stop(): void;
}

export function buildSimilarityIndexes(
  records: ScoringRecordRepository,
  models: readonly ModelStatus[],
  logger: Logger,
  busyRetryMs = 10_000,
): SimilarityIndexBuilds {
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const pause = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, busyRetryMs);
      timer.unref();
    });
  const build = async (model: ModelStatus, dim: number) => {
    while (!stopped) {
      const started = Date.now();
      try {
        const outcome = await records.ensureVectorIndex(model.id, dim);
        if (outcome === 'built') logger.info({ model: model.id, ms: Date.now() - started }, 'similarity index built');
        if (outcome !== 'busy') return;
      } catch (error) {
        if (stopped) return;
        logger.warn(
          { model: model.id, err: (error as Error).message },
          'could not build the similarity index (similarity search scans meanwhile): if the runtime role may not ' +
            'create indexes, set NEGLABEL_MIGRATION_DATABASE_URL to the owner role; it is tried again at the next ' +
            'start',
        );
        return;
      }
      await pause(); // another process is building one
    }
  };
  const done = (async () => {
    for (const model of models) if (model.loaded && model.embeddingDim) await build(model, model.embeddingDim);
  })();
  return {
    done,
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
    },
  };
}
