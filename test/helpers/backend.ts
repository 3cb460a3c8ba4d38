/**
 * Which database the test run uses (`npm test` runs the server tiers on both, see
 * tools/test/run.ts): the embedded PGlite, or a real PostgreSQL server named by
 * NEGLABEL_TEST_POSTGRES_URL (a superuser URL), on which every test makes databases of its own
 * from the template with `vector` and drops them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { TEMPLATE_DATABASE } from '../../tools/postgres/cluster.ts';

export type TestBackend = 'pglite' | 'postgres';

export const TEST_BACKEND: TestBackend = process.env.NEGLABEL_TEST_DATABASE === 'postgres' ? 'postgres' : 'pglite';
export const onPostgres = TEST_BACKEND === 'postgres';

function adminUrl(): string {
  const url = process.env.NEGLABEL_TEST_POSTGRES_URL;
  if (!url) throw new Error('NEGLABEL_TEST_DATABASE=postgres needs NEGLABEL_TEST_POSTGRES_URL (npm test sets both)');
  return url;
}

/** `url` with another database name. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(adminUrl());
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  /** superuser URL of the new database */
  url: string;
  drop(): Promise<void>;
}

const nameFor = (key?: string) =>
  `t_${key ? createHash('sha256').update(key).digest('hex').slice(0, 24) : randomBytes(12).toString('hex')}`;

const dropDatabase = (name: string) =>
  withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {});

/** A new database on the test server (named after `key` if given, so a restart finds it again). */
export async function createTestDatabase(key?: string): Promise<TestDatabase> {
  const name = nameFor(key);
  await withAdmin(async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    // CREATE DATABASE copies the template while nobody else is connected to it: retry briefly
    for (let attempt = 0; exists.rowCount === 0; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE ${TEMPLATE_DATABASE}`);
        break;
      } catch (error) {
        if (attempt > 20 || !/being accessed by other users/.test((error as Error).message)) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return {
    name,
    url: databaseUrl(adminUrl(), name),
    drop: () => dropDatabase(name),
  };
}

/**
 * The database variables of a service whose data folder is `dataDir`: none on PGlite (the
 * service opens the folder's embedded database), the folder's own server database otherwise.
 */
export async function serviceDatabaseEnv(dataDir: string): Promise<Record<string, string>> {
  return onPostgres ? { DATABASE_URL: (await createTestDatabase(dataDir)).url } : {};
}

/** Drops the server database of `dataDir` (nothing on PGlite). */
export async function dropServiceDatabase(dataDir: string): Promise<void> {
  if (onPostgres) await dropDatabase(nameFor(dataDir));
}

/**
 * Makes the database stop answering `pool` until the returned function is called. PGlite: a
 * transaction held open owns its one backend, so every other connection waits. A server: its
 * postmaster (no new connection is accepted) and the backends of the pool's database are stopped
 * with SIGSTOP, as a hung host would be.
 */
export async function wedgeDatabase(pool: pg.Pool): Promise<() => Promise<void>> {
  if (!onPostgres) {
    const client = await pool.connect();
    await client.query('BEGIN');
    return async () => {
      await client.query('ROLLBACK');
      client.release();
    };
  }
  const database = (await pool.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
  const pids = await withAdmin(async (client) => {
    const dataDir = (await client.query('SHOW data_directory')).rows[0].data_directory as string;
    const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
      database,
    ]);
    return [postmaster, ...rows.map((r) => r.pid)];
  });
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  return async () => {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  };
}
