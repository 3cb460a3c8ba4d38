/**
 * Opens the database the configuration names (external DATABASE_URL, else embedded PGlite),
 * applies migrations, and returns the pg pool and the Prisma client over it.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import { applyMigrations } from './migrate.ts';

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize: number;
  migrationsDir: string;
}

export interface Database {
  pool: pg.Pool;
  prisma: PrismaClient;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions, log: (msg: string, fields?: object) => void): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = options.databaseUrl;
  let poolSize = options.poolSize;
  if (!url) {
    // PGlite is one backend session, and its socket server interleaves the extended-protocol
    // messages of concurrent connections (one connection's unnamed statement replaces another's:
    // "unnamed prepared statement does not exist"). One pooled connection serializes queries,
    // which PGlite does anyway; the socket still admits a few more for tools.
    poolSize = 1;
    embedded = await startEmbeddedPostgres(options.dataDir, 4);
    url = embedded.url;
    log('embedded postgres started', { dataDir: options.dataDir });
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', (error) => log('database pool error', { err: error.message }));
  try {
    await applyMigrations(pool, options.migrationsDir, log);
  } catch (error) {
    await pool.end();
    await embedded?.stop();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    pool,
    prisma,
    embedded: embedded !== undefined,
    async close() {
      await prisma.$disconnect();
      await pool.end();
      await embedded?.stop();
    },
  };
}
