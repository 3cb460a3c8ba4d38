/**
 * Per-caller rate limit (token bucket): callers are told apart by their authenticated API key id
 * or, without a valid key, by their address; so `bearer K`, `BEARER K` and random tokens share
 * one bucket. Over the limit, requests get HTTP 429 with a RATE_LIMITED error in the body format
 * of the route (GraphQL, or OpenAI's for /v1). One limiter serves every route, so a key has one
 * budget however it calls. Buckets
 * live in this process (several API processes each allow the limit); the least recently used
 * bucket is evicted one at a time beyond `maxBuckets`.
 */
import type { NextFunction, Request, Response } from 'express';

/** The body of a refusal, in the format of the route that refused. */
export type ErrorBody = (req: Request, message: string, code: string) => object;

export const graphqlErrorBody: ErrorBody = (_req, message, code) => ({ errors: [{ message, extensions: { code } }] });

export function rateLimit(
  perMinute: number,
  identify: (req: Request, res: Response) => Promise<string>,
  errorBody: ErrorBody = graphqlErrorBody,
  maxBuckets = 100_000,
) {
  const buckets = new Map<string, { tokens: number; updated: number }>();
  const refillPerMs = perMinute / 60_000;
  return async (req: Request, res: Response, next: NextFunction) => {
    if (perMinute <= 0) return next();
    const key = await identify(req, res);
    const now = Date.now();
    const bucket = buckets.get(key) ?? { tokens: perMinute, updated: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updated) * refillPerMs);
    bucket.updated = now;
    buckets.delete(key); // re-inserted last: the map's order is least recently used first
    buckets.set(key, bucket);
    if (buckets.size > maxBuckets) buckets.delete(buckets.keys().next().value as string);
    if (bucket.tokens < 1) {
      res.setHeader('retry-after', String(Math.ceil((1 - bucket.tokens) / refillPerMs / 1000)));
      res
        .status(429)
        .json(
          errorBody(
            req,
            `Rate limit of ${perMinute} requests per minute exceeded: retry after the Retry-After header's seconds.`,
            'RATE_LIMITED',
          ),
        );
      return;
    }
    bucket.tokens -= 1;
    next();
  };
}
