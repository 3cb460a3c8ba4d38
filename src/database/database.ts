/**
 * Opens the database the configuration names (external DATABASE_URL, else embedded PGlite),
 * applies migrations, and returns the pg pool and the Prisma client over it.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
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

/** Advisory lock key of run-time DDL (distinct from the migrations' key). */
const RUNTIME_DDL_LOCK = 72_707_369_001;

export interface DatabaseOptions {
  databaseUrl?: string;
  /** the owner role's URL for migrations and runtime DDL; default databaseUrl */
  migrationDatabaseUrl?: string;
  /** SET ROLE on every runtime connection */
  role?: string;
  dataDir: string;
  poolSize: number;
  migrationsDir: string;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** free space kept on the embedded database's disk */
  minFreeDiskBytes: number;
  /** nice value of the embedded database's thread (all-in-one mode; 0 = the process's priority) */
  embeddedThreadNice?: number;
}

export interface Database {
  pool: pg.Pool;
  /**
   * Runs DDL the service needs at run time (per-model vector indexes) as the owner role: the
   * runtime role may own nothing.
   */
  ddl(sql: string): Promise<void>;
  prisma: PrismaClient;
  embedded: boolean;
  /** NOTIFY on a channel (other processes' `listen` hears it; best effort) */
  notify(channel: string): Promise<void>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel`, on a connection of its own. The embedded
   * database is one session, so its notifications reach no other connection: callers poll too.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** refuses writes before the disk fills */
  storage: StorageGuard;
  close(): Promise<void>;
}

export async function openDatabase(
  options: DatabaseOptions,
  log: (msg: string, fields?: object) => void,
): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  // the embedded database's disk is ours to watch, whether this process or a `db` process serves
  // it; an external Postgres reports a full disk itself
  const storage = new StorageGuard(
    options.databaseUrl ? embeddedDataDirOf(options.databaseUrl) : options.dataDir,
    options.minFreeDiskBytes,
  );
  let url = options.databaseUrl;
  const poolSize = options.poolSize;
  // PGlite ignores session parameters and cannot interrupt a statement (one WASM thread): its
  // protection is that only this user's processes can reach it at all (embedded-postgres.ts).
  let timeouts = {
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
  };
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
      (message, error) => log(message, { err: error instanceof Error ? error.message : error }),
    );
    url = embedded.url;
    timeouts = { statement_timeout: 0, idle_in_transaction_session_timeout: 0 };
    log('embedded postgres started on a private Unix socket', { dataDir: options.dataDir });
  }
  const ownerUrl = options.migrationDatabaseUrl ?? url;
  // migrations may build large indexes: no statement timeout for them
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
  owner.on('error', (error) => log('database pool error', { err: error.message }));
  try {
    await applyMigrations(owner, options.migrationsDir, log);
  } catch (error) {
    await owner.end();
    await embedded?.stop();
    throw error;
  }
  if (embedded) await owner.end(); // one PGlite session: the runtime pool's single connection does everything
  const pool = new pg.Pool({ connectionString: url, max: poolSize, ...(timeouts.statement_timeout ? timeouts : {}) });
  pool.on('error', (error) => log('database pool error', { err: error.message }));
  if (options.role) {
    // every runtime connection acts as the unprivileged role (see docs/database-roles.sql)
    const role = options.role;
    pool.on(
      'connect',
      (client) =>
        void client.query(`SET ROLE "${role}"`).catch((error) => log('SET ROLE failed', { role, err: error.message })),
    );
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    pool,
    prisma,
    embedded: embedded !== undefined,
    storage,
    async notify(channel) {
      await pool.query(`NOTIFY ${channel}`);
    },
    async listen(channel, onNotify) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', (error) => log('notification connection lost: polling only', { err: error.message }));
      client.on('notification', (message) => message.channel === channel && onNotify());
      await client.connect();
      await client.query(`LISTEN ${channel}`);
      return () => client.end();
    },
    async ddl(sql) {
      // several processes may start at once: one builds the index, the others find it built
      const client = await (embedded ? pool : owner).connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [RUNTIME_DDL_LOCK]);
        await client.query(sql);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
      if (!embedded) await owner.end();
      await embedded?.stop();
    },
  };
}
