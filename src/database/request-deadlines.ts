/**
 * A request's deadline (x-request-timeout-ms, in the request scope) covers its database work too:
 * a statement is not started once the deadline has passed (on either backend: a wait for a pooled
 * connection or for PGlite's one backend ends in DEADLINE_EXCEEDED, not in a late answer), and on
 * a PostgreSQL server a statement started before it gets a statement_timeout of what is left, so
 * the server cancels it at the deadline. Transaction ends are never refused: a COMMIT or ROLLBACK
 * that a deadline skipped would leave a transaction open on a pooled connection.
 */
import type pg from 'pg';
import { DATABASE_DEADLINE_MESSAGE, DeadlineExceededError } from '../errors.ts';
import { requestScope } from '../logger.ts';

/** PostgreSQL's query_canceled: what a statement_timeout ends a statement with */
const QUERY_CANCELED = '57014';
const TRANSACTION_END = /^\s*(COMMIT|ROLLBACK|END|ABORT|RELEASE|DEALLOCATE|DISCARD)\b/i;
/** undoes a SET made in the transaction, so the session's value is no longer known */
const ROLLBACK = /^\s*(ROLLBACK|ABORT)\b/i;
/** below this, a deadline is as good as passed: no statement is started for it */
const MIN_STATEMENT_MS = 1;

type QueryCallback = (error: Error | null, result?: pg.QueryResult) => void;

function statementText(config: unknown): string {
  if (typeof config === 'string') return config;
  return typeof (config as { text?: unknown })?.text === 'string' ? (config as { text: string }).text : '';
}

/**
 * Makes every connection the pool opens keep to the request deadlines. `sessionTimeoutMs` is the
 * connections' own statement_timeout (0: none); `server` says statements can be cancelled (PGlite
 * cannot interrupt one, so there a deadline only stops statements from starting).
 */
export function keepRequestDeadlines(pool: pg.Pool, sessionTimeoutMs: number, server: boolean): void {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<pg.QueryResult>;
    /** the statement_timeout this session has now */
    let current = sessionTimeoutMs;
    const run = async (config: unknown, values: unknown): Promise<pg.QueryResult> => {
      const deadline = requestScope.getStore()?.deadline;
      const text = statementText(config);
      if (ROLLBACK.test(text)) {
        current = Number.NaN;
        return query(config, values);
      }
      if (deadline === undefined || TRANSACTION_END.test(text)) {
        if (server && current !== sessionTimeoutMs) {
          await query(`SET statement_timeout = ${sessionTimeoutMs}`);
          current = sessionTimeoutMs;
        }
        return query(config, values);
      }
      const left = Math.floor(deadline - Date.now());
      if (left < MIN_STATEMENT_MS) throw new DeadlineExceededError(DATABASE_DEADLINE_MESSAGE);
      const wanted = sessionTimeoutMs > 0 && sessionTimeoutMs <= left ? sessionTimeoutMs : left;
      if (server && wanted !== current) {
        await query(`SET statement_timeout = ${wanted}`);
        current = wanted;
      }
      try {
        return await query(config, values);
      } catch (error) {
        const cancelled = (error as { code?: unknown }).code === QUERY_CANCELED && wanted !== sessionTimeoutMs;
        throw cancelled ? new DeadlineExceededError(DATABASE_DEADLINE_MESSAGE) : error;
      }
    };
    // node-postgres' query(config, values?, callback?): a submittable (cursor, stream) passes through
    const patched = (config: unknown, values?: unknown, callback?: unknown) => {
      if (typeof (config as { submit?: unknown })?.submit === 'function') return query(config, values, callback);
      const done = (typeof values === 'function' ? values : callback) as QueryCallback | undefined;
      const promise = run(config, typeof values === 'function' ? undefined : values);
      if (!done) return promise;
      promise.then(
        (result) => done(null, result),
        (error: Error) => done(error),
      );
      return undefined;
    };
    client.query = patched as typeof client.query;
  });
}
