/** Per-request GraphQL context: the services and who is calling. */
import type { Services } from '../services/index.ts';

export interface GraphQLContext {
  services: Services;
  /** who is calling (x-caller header until API keys exist) */
  caller: string;
  requestId: string;
}
