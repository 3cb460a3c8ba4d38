/** Per-request GraphQL context: the services and who is calling. */
import type { Caller } from '../services/access-service.ts';
import { imageCacheScope } from '../services/embedding-service.ts';
import type { Services } from '../services/index.ts';
import type { InFlightLimiter } from '../services/in-flight-limiter.ts';

export interface GraphQLContext {
  services: Services;
  /** the raw Authorization header; authenticated on first use by graphql/access.ts */
  authorization: string | undefined;
  /** the authenticated caller, set by graphql/access.ts before any non-public resolver runs */
  auth?: Caller;
  requestId: string;
  /** per-caller bound on encoder-heavy operations in flight */
  inFlight: InFlightLimiter;
}

/** The caller's name, as recorded in the history. */
export function callerName(context: GraphQLContext): string {
  return context.auth?.name ?? 'anonymous';
}

/** Whose cached image embeddings may answer this request: its key's (imageCacheScope). */
export function cacheScope(context: GraphQLContext): string {
  return imageCacheScope(context.auth?.keyId ?? null);
}
