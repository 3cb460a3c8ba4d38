/**
 * Opens the database the configuration names (external DATABASE_URL, else embedded PGlite),
 * applies migrations, and returns the pg pool and the Prisma client over it.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { keepRequestDeadlines } from './request-deadlines.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { LOCK_FILE, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import { applyMigrations } from './migrate.ts';
import { StorageGuard } from './storage-guard.ts';

/**
 * The data folder of an embedded database served by a `db` process, when `url` points at its
 * socket (`?host=<folder>` holding neglabel's lock file); null for any other database.
 */
export function embeddedDataDirOf(url: string): string | null {
  const host = new URL(url).searchParams.get('host');
  return host?.startsWith('/') && existsSync(path.join(host, LOCK_FILE)) ? host : null;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** the owner role's URL for migrations and runtime DDL; default databaseUrl */
  migrationDatabaseUrl?: string;
  /** the role every runtime connection acts as (set when the connection opens) */
  role?: string;
  dataDir: string;
  poolSize: number;
  migrationsDir: string;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** DDL sessions (migrations, index builds): how long they wait for a lock, and run at most */
  ddlLockTimeoutMs: number;
  ddlStatementTimeoutMs: number;
  /** free space kept on the embedded database's disk */
  minFreeDiskBytes: number;
  /** nice value of the embedded database's thread (all-in-one mode; 0 = the process's priority) */
  embeddedThreadNice?: number;
  /** what `pg_stat_activity.application_name` shows for this process's connections */
  applicationName: string;
}

/** A connection of the owner role for DDL, with the DDL timeouts; ended by `close()` at the latest. */
export type DdlSession = <T>(run: (client: pg.Client) => Promise<T>) => Promise<T>;

export interface Database {
  pool: pg.Pool;
  /**
   * Runs DDL as the owner role (the runtime role may own nothing) on a session of its own, with a
   * lock timeout, so that a lock it waits for never queues other sessions behind it for long.
   */
  ddl: DdlSession;
  prisma: PrismaClient;
  /** this process runs the embedded database */
  embedded: boolean;
  /** a PostgreSQL server (not PGlite, here or in a `db` process): many backends, CONCURRENTLY DDL */
  server: boolean;
  /** NOTIFY on a channel (other processes' `listen` hears it; best effort) */
  notify(channel: string): Promise<void>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel`, on a connection of its own that is opened again
   * (with backoff) whenever it is lost; `onNotify` also runs after each reconnection, since
   * notifications sent meanwhile are gone. The embedded database is one session, so its
   * notifications reach no other connection: callers poll too.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** refuses writes before the disk fills */
  storage: StorageGuard;
  close(): Promise<void>;
}

type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

/** Session settings of a connection to an external Postgres; only those set (0 = none). */
export function sessionSettings(settings: {
  applicationName: string;
  role?: string;
  statementTimeoutMs: number;
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  extra?: string[];
}): pg.ClientConfig {
  // the role is a startup option, so a connection either acts as it from its first statement or
  // fails to open: it can never run a statement as the login role
  const options = [...(settings.role ? [`-c role=${settings.role}`] : []), ...(settings.extra ?? [])];
  return {
    application_name: settings.applicationName,
    ...(settings.statementTimeoutMs > 0 && { statement_timeout: settings.statementTimeoutMs }),
    ...(settings.lockTimeoutMs && { lock_timeout: settings.lockTimeoutMs }),
    ...(settings.idleInTransactionTimeoutMs && {
      idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
    }),
    ...(options.length > 0 && { options: options.join(' ') }),
  };
}

/** Why the runtime role could not be taken, as one line that says what to do. */
function roleError(role: string, cause: string): Error {
  return new Error(
    `NEGLABEL_DATABASE_ROLE=${role} could not be set on a database connection (${cause}): create the role and ` +
      `grant it to DATABASE_URL's user (GRANT ${role} TO <user>; see docs/database-roles.sql), or unset ` +
      'NEGLABEL_DATABASE_ROLE',
  );
}

export async function openDatabase(options: DatabaseOptions, log: Log): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  // the embedded database's disk is ours to watch, whether this process or a `db` process serves
  // it; an external Postgres reports a full disk itself
  const storage = new StorageGuard(
    options.databaseUrl ? embeddedDataDirOf(options.databaseUrl) : options.dataDir,
    options.minFreeDiskBytes,
  );
  let url = options.databaseUrl;
  const poolSize = options.poolSize;
  if (!url) {
    // PGlite is one backend: the embedded server hands it to one connection at a time, for a
    // whole transaction or extended-protocol exchange (pglite-server.ts), so a pool is safe
    embedded = await startEmbeddedPostgres(
      options.dataDir,
      {
        maxConnections: poolSize + 2,
        idleInTransactionMs: options.idleInTransactionTimeoutMs,
        threadNice: options.embeddedThreadNice,
      },
      storage,
      (message, error) => log('info', message, { err: error instanceof Error ? error.message : error }),
    );
    url = embedded.url;
    log('info', 'embedded postgres started on a private Unix socket', { dataDir: options.dataDir });
  }
  // PGlite ignores session parameters and cannot interrupt a statement (one WASM thread): its
  // protection is that only this user's processes can reach it at all (embedded-postgres.ts).
  const external = embedded === undefined && embeddedDataDirOf(url) === null;
  if (options.role && !external) {
    // PGlite has one session shared by every process, as its superuser: a role set there would
    // switch every process's role and protect nothing, so it is refused rather than pretended
    await embedded?.stop();
    throw new Error(
      `NEGLABEL_DATABASE_ROLE=${options.role} protects nothing on the embedded database (one shared superuser ` +
        'session, reachable only by this user): unset it, or point DATABASE_URL at a PostgreSQL server',
    );
  }
  const ownerUrl = options.migrationDatabaseUrl ?? url;
  const ddlSettings: pg.ClientConfig = external
    ? sessionSettings({
        applicationName: `${options.applicationName} ddl`,
        statementTimeoutMs: options.ddlStatementTimeoutMs,
        lockTimeoutMs: options.ddlLockTimeoutMs,
        // a statement of a session whose client went away (a process stopping mid-build) ends
        extra: ['-c client_connection_check_interval=1000'],
      })
    : {};
  const ddlSessions = new Set<pg.Client>();
  const ddl: DdlSession = async (run) => {
    const client = new pg.Client({ connectionString: ownerUrl, ...ddlSettings });
    client.on('error', (error) => log('warn', 'DDL connection lost', { err: error.message }));
    ddlSessions.add(client);
    try {
      await client.connect();
      return await run(client);
    } finally {
      ddlSessions.delete(client);
      await client.end().catch(() => {});
    }
  };
  try {
    await ddl((client) => applyMigrations(client, options.migrationsDir, (msg, fields) => log('info', msg, fields)));
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    ...(external
      ? sessionSettings({
          applicationName: options.applicationName,
          role: options.role,
          statementTimeoutMs: options.statementTimeoutMs,
          idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs,
        })
      : {}),
  });
  pool.on('error', (error) => log('warn', 'database pool error', { err: error.message }));
  keepRequestDeadlines(pool, external ? options.statementTimeoutMs : 0, external);
  const role = options.role;
  const fail = async (error: Error) => {
    await pool.end().catch(() => {});
    await embedded?.stop();
    return error;
  };
  if (role) {
    // one clear line and no start, rather than a service running as the schema owner
    const acting = await pool.query<{ u: string }>('SELECT current_user AS u').then(
      (r) => r.rows[0].u,
      (error: Error) => error,
    );
    if (acting instanceof Error) throw await fail(roleError(role, acting.message));
    if (acting !== role) throw await fail(roleError(role, `connections act as ${acting}`));
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const listeners = new Set<() => Promise<void>>();
  return {
    pool,
    prisma,
    embedded: embedded !== undefined,
    server: external,
    storage,
    ddl,
    async notify(channel) {
      await pool.query(`NOTIFY ${channel}`);
    },
    async listen(channel, onNotify) {
      let client: pg.Client | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      const connect = async (attempt: number): Promise<void> => {
        const next = new pg.Client({
          connectionString: url,
          ...(external
            ? sessionSettings({ applicationName: `${options.applicationName} listen`, statementTimeoutMs: 0 })
            : {}),
        });
        next.on('notification', (message) => message.channel === channel && onNotify());
        next.on('error', (error) => {
          if (stopped || client !== next) return;
          client = undefined;
          log('warn', 'notification connection lost: reconnecting (jobs are found by polling meanwhile)', {
            channel,
            err: error.message,
          });
          schedule(0);
        });
        try {
          await next.connect();
          await next.query(`LISTEN ${channel}`);
        } catch (error) {
          await next.end().catch(() => {});
          if (attempt === 0 && !stopped) throw error;
          log('warn', 'could not reopen the notification connection: retrying', {
            channel,
            attempt,
            err: (error as Error).message,
          });
          schedule(attempt);
          return;
        }
        if (stopped) return void (await next.end().catch(() => {}));
        client = next;
        if (attempt > 0) {
          log('info', 'notification connection reopened', { channel, attempt });
          onNotify(); // whatever was notified while it was down
        }
      };
      const schedule = (attempt: number) => {
        // backoff 0.5 s, 1 s, 2 s … up to 30 s
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        retry = setTimeout(() => void connect(attempt + 1), delay);
        retry.unref();
      };
      await connect(0);
      const stop = async () => {
        stopped = true;
        clearTimeout(retry);
        listeners.delete(stop);
        await client?.end().catch(() => {});
      };
      listeners.add(stop);
      return stop;
    },
    async close() {
      for (const stop of [...listeners]) await stop();
      // an index build in progress is abandoned (the server ends it once its client is gone)
      await Promise.all([...ddlSessions].map((client) => client.end().catch(() => {})));
      await prisma.$disconnect();
      await pool.end();
      await embedded?.stop();
    },
  };
}
