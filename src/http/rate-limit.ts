/**
 * Per-caller rate limit (token bucket): callers are told apart by their API key (hashed) or, without
 * one, by their address. Over the limit, requests get HTTP 429 with a GraphQL error RATE_LIMITED.
 */
import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export function rateLimit(perMinute: number) {
  const buckets = new Map<string, { tokens: number; updated: number }>();
  const refillPerMs = perMinute / 60_000;
  return (req: Request, res: Response, next: NextFunction) => {
    if (perMinute <= 0) return next();
    const auth = req.headers.authorization;
    const key = auth ? createHash('sha256').update(auth).digest('hex') : `ip:${req.socket.remoteAddress}`;
    const now = Date.now();
    const bucket = buckets.get(key) ?? { tokens: perMinute, updated: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updated) * refillPerMs);
    bucket.updated = now;
    buckets.set(key, bucket);
    if (buckets.size > 100_000) buckets.clear(); // bounded memory under key-spraying
    if (bucket.tokens < 1) {
      res.setHeader('retry-after', String(Math.ceil((1 - bucket.tokens) / refillPerMs / 1000)));
      res.status(429).json({ errors: [{ message: `Rate limit of ${perMinute} requests per minute exceeded: retry after the Retry-After header's seconds.`, extensions: { code: 'RATE_LIMITED' } }] });
      return;
    }
    bucket.tokens -= 1;
    next();
  };
}
