import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../helpers/database.ts';
import { applyMigrations, migrationStatus, readMigrations } from '../../src/database/migrate.ts';

const MIGRATIONS = path.resolve('migrations');

test('migrations apply once, are recorded as prisma migrate deploy records them, and pgvector works', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-db-'));
  const db = await startEmbeddedDatabase(dir, 8);
  const pools = [new pg.Pool({ connectionString: db.url, max: 2 }), new pg.Pool({ connectionString: db.url, max: 2 })];
  try {
    // two starters at once: the advisory lock serializes them
    const folders = readMigrations(MIGRATIONS).map((m) => m.name);
    const applied = await Promise.all(pools.map((pool) => applyMigrations(pool, MIGRATIONS, () => {})));
    assert.deepEqual(applied.flat().sort(), folders, 'each migration applied exactly once');
    const rows = (
      await pools[0].query(
        'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ' +
          'ORDER BY migration_name',
      )
    ).rows;
    assert.deepEqual(
      rows.map((r) => r.migration_name),
      folders,
    );
    for (const row of rows) {
      const sql = readFileSync(path.join(MIGRATIONS, row.migration_name, 'migration.sql'));
      assert.equal(row.checksum, createHash('sha256').update(sql).digest('hex'));
      assert.equal(row.applied_steps_count, 1);
      assert.ok(row.finished_at instanceof Date);
      assert.equal(row.rolled_back_at, null);
    }
    assert.deepEqual(await migrationStatus(pools[0], readMigrations(MIGRATIONS)), { applied: folders, pending: [] });
    const {
      rows: [distance],
    } = await pools[0].query(`SELECT '[1,0]'::vector <=> '[0,1]'::vector AS d`);
    assert.equal(distance.d, 1);
    assert.deepEqual(await applyMigrations(pools[0], MIGRATIONS, () => {}), []);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing migration is rolled back whole and leaves no record', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-db-'));
  const migrations = path.join(dir, 'migrations');
  const bad = path.join(migrations, '20990101000000_bad');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(bad, { recursive: true });
  writeFileSync(path.join(bad, 'migration.sql'), 'CREATE TABLE t_ok (id int); SELECT no_such_function();');
  const db = await startEmbeddedDatabase(path.join(dir, 'data'), 4);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    await assert.rejects(
      applyMigrations(pool, migrations, () => {}),
      /20990101000000_bad failed and was rolled back/,
    );
    assert.equal((await pool.query(`SELECT to_regclass('t_ok') AS t`)).rows[0].t, null);
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM _prisma_migrations')).rows[0].n, 0);
  } finally {
    await pool.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second process cannot open the same embedded data folder', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-db-'));
  // a live pid that is not ours: the parent of this test process
  writeFileSync(path.join(dir, 'neglabel.lock'), String(process.ppid));
  try {
    await assert.rejects(startEmbeddedDatabase(dir, 2), /in use by another neglabel process/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
