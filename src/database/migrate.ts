/**
 * Applies the SQL migrations in migrations/ (Prisma's folder format) and records them in
 * `_prisma_migrations` the way `prisma migrate deploy` does (same table, sha256 checksums of
 * migration.sql), so either tool can take over. An advisory lock (Prisma's own key) makes two
 * processes starting at once apply each migration exactly once.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';

const PRISMA_ADVISORY_LOCK = 72707369;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir: string): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(dir, entry.name, 'migration.sql')))
    .map((entry) => {
      const bytes = readFileSync(path.join(dir, entry.name, 'migration.sql'));
      return {
        name: entry.name,
        sql: bytes.toString('utf8'),
        checksum: createHash('sha256').update(bytes).digest('hex'),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

export async function migrationStatus(pool: pg.Pool, files: readonly MigrationFile[]): Promise<MigrationStatus> {
  const exists = await pool.query(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  const done = new Set<string>();
  if (exists.rows[0].present) {
    const rows = await pool.query(
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    for (const row of rows.rows) done.add(row.migration_name);
  }
  return {
    applied: files.filter((f) => done.has(f.name)).map((f) => f.name),
    pending: files.filter((f) => !done.has(f.name)).map((f) => f.name),
  };
}

// The advisory lock serializes processes; PGlite serves every connection from one backend session,
// where that lock is re-entrant, so starters within one process also queue here.
let inProcess: Promise<unknown> = Promise.resolve();

/**
 * Applies pending migrations, each in its own transaction; returns the names applied now. Takes a
 * pool (a connection of it is used) or a connected client.
 */
export function applyMigrations(
  pool: pg.Pool | pg.Client,
  dir: string,
  log: (msg: string, fields?: object) => void,
): Promise<string[]> {
  const run = inProcess.then(() => applyMigrationsLocked(pool, dir, log));
  inProcess = run.catch(() => {});
  return run;
}

async function applyMigrationsLocked(
  pool: pg.Pool | pg.Client,
  dir: string,
  log: (msg: string, fields?: object) => void,
): Promise<string[]> {
  const files = readMigrations(dir);
  const pooled = 'idleCount' in pool ? await pool.connect() : null;
  const client = pooled ?? (pool as pg.Client);
  const appliedNow: string[] = [];
  try {
    // another starter may hold the lock through a long migration: wait for it as long as it takes,
    // then let the migrations' own statements wait for table locks only as the session allows
    const { rows: timeout } = await client.query<{ lock_timeout: string }>('SHOW lock_timeout');
    await client.query('SET lock_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    await client.query("SELECT set_config('lock_timeout', $1, false)", [timeout[0].lock_timeout]);
    await client.query(CREATE_TABLE);
    const { rows } = await client.query(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"`,
    );
    for (const file of files) {
      const records = rows.filter((r) => r.migration_name === file.name && r.rolled_back_at === null);
      const finished = records.find((r) => r.finished_at !== null);
      if (finished) {
        if (finished.checksum !== file.checksum) {
          log('migration changed after it was applied', { migration: file.name });
        }
        continue;
      }
      if (records.length > 0) {
        throw new Error(
          `migration ${file.name} failed earlier and is recorded as unfinished: fix the database by hand, then ` +
            `mark it rolled back (prisma migrate resolve --rolled-back ${file.name})`,
        );
      }
      const started = Date.now();
      await client.query('BEGIN');
      try {
        await client.query(file.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, ` +
            `applied_steps_count) VALUES ($1, $2, $3, now(), now(), 1)`,
          [randomUUID(), file.checksum, file.name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file.name} failed and was rolled back: ${(error as Error).message}`);
      }
      appliedNow.push(file.name);
      log('migration applied', { migration: file.name, ms: Date.now() - started });
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => {});
    pooled?.release();
  }
  return appliedNow;
}
