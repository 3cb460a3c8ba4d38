/**
 * At most `limit` encoder-heavy operations in flight per caller, so one key cannot fill the
 * shared batches and starve the others. GraphQL and /v1 take from the same limiter. Per process,
 * like the rate limit: it bounds this process's share of the encoder.
 */
import { DomainError } from '../errors.ts';
import { CountsByKey } from '../lib/counts-by-key.ts';

export class InFlightLimiter {
  private readonly inFlight = new CountsByKey();

  constructor(private readonly limit: number) {}

  /** A release function; TOO_MANY_IN_FLIGHT when the caller is at its limit. */
  acquire(caller: string): () => void {
    if (this.limit > 0 && this.inFlight.of(caller) >= this.limit) {
      throw new DomainError(
        'TOO_MANY_IN_FLIGHT',
        'This key already has the most encoder requests in flight that one key may have: wait for them to ' +
          'finish, then retry.',
      );
    }
    return this.inFlight.take(caller);
  }
}
