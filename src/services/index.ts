/** The service layer, assembled once per process. Resolvers reach everything through it. */
import type { Encoder } from '../inference/encoder.ts';
import type { StorageGuard } from '../database/storage-guard.ts';
import type { AccessService } from './access-service.ts';
import type { EmbeddingService } from './embedding-service.ts';
import type { HealthService } from './health-service.ts';
import type { HistoryService } from './history-service.ts';
import type { HistoryLogService } from './history-log-service.ts';
import type { MiningService } from './mining-service.ts';
import type { ScoringService } from './scoring-service.ts';
import type { TaxonomyService } from './taxonomy-service.ts';

export interface Services {
  encoder: Encoder;
  /** refuses writes before the database's disk fills */
  storage: StorageGuard;
  health: HealthService;
  embeddings: EmbeddingService;
  taxonomies: TaxonomyService;
  mining: MiningService;
  scoring: ScoringService;
  history: HistoryService;
  /** the signed Merkle log over the history: checkpoints, proofs, export */
  historyLog: HistoryLogService;
  access: AccessService;
}
