/**
 * Structured JSON logs (pino). Every line written while a request is being handled carries its
 * request id, through AsyncLocalStorage, whichever module logs it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Per HTTP request: its id (in every log line), its deadline (epoch ms; the encoder and the
 * database shed work past it) and when it arrived (performance.now(): durations include
 * authentication and body parsing).
 */
export const requestScope = new AsyncLocalStorage<{ requestId: string; deadline?: number; arrivedAt?: number }>();

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  // a fresh object: pino merges each line's fields into the mixin's object, which would otherwise
  // leak them into every later line of the same request; the request id only (not its deadline)
  return pino(
    {
      level,
      base: { service: 'neglabel' },
      mixin: () => {
        const requestId = requestScope.getStore()?.requestId;
        return requestId === undefined ? {} : { requestId };
      },
    },
    destination,
  );
}
