/** The service layer, assembled once per process. Resolvers reach everything through it. */
import type { Encoder } from '../inference/encoder.ts';
import type { EmbeddingService } from './embedding-service.ts';
import type { HealthService } from './health-service.ts';

export interface Services {
  encoder: Encoder;
  health: HealthService;
  embeddings: EmbeddingService;
}
