/** Structured JSON logs (pino). */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'neglabel' } });
}
