import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../helpers/database.ts';
import { niceOfThread, niceOfThreads } from '../helpers/threads.ts';
import { applyMigrations, migrationStatus, readMigrations } from '../../src/database/migrate.ts';
import { vectorArrayBytes, vectorBytes, vectorFromBytes, vectorTypeOid } from '../../src/repositories/vectors.ts';

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

test('one data folder, one server: a second opening is refused, a stale lock file refuses nothing', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-db-'));
  try {
    const first = await startEmbeddedDatabase(dir, 2);
    try {
      await assert.rejects(startEmbeddedDatabase(dir, 2), /in use by another neglabel process \(pid \d+\)/);
    } finally {
      await first.stop();
    }
    // a lock file naming a live pid that holds nothing (as after a crash and pid reuse): before,
    // the pid file made this folder unusable until someone deleted the file by hand
    writeFileSync(path.join(dir, 'neglabel.lock'), String(process.ppid));
    const again = await startEmbeddedDatabase(dir, 2);
    await again.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vectors written in binary read back exactly as pgvector stores them, single and as arrays', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-db-'));
  const db = await startEmbeddedDatabase(dir, 4);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
    await pool.query('CREATE TABLE v (id int, e vector)');
    const vectors = Array.from({ length: 300 }, (_, i) =>
      Float32Array.from({ length: 130 }, (_, d) => Math.sin(i * 131 + d) * 10 ** ((d % 9) - 4)),
    );
    const oid = await vectorTypeOid(pool);
    await pool.query('INSERT INTO v SELECT i, e FROM unnest($1::vector[]) WITH ORDINALITY AS t(e, i)', [
      vectorArrayBytes(vectors.slice(0, 299), oid),
    ]);
    await pool.query('INSERT INTO v VALUES (300, $1::vector)', [vectorBytes(vectors[299])]);
    // pgvector's own text output (shortest round-trip digits) is the independent oracle
    const { rows } = await pool.query<{ id: number; text: string; bytes: Buffer }>(
      'SELECT id, e::text AS text, vector_send(e) AS bytes FROM v ORDER BY id',
    );
    assert.equal(rows.length, 300);
    for (const row of rows) {
      const expected = vectors[row.id - 1];
      assert.deepEqual(new Float32Array(JSON.parse(row.text)), expected);
      assert.deepEqual(vectorFromBytes(row.bytes), expected);
    }
    // and a vector pgvector parsed from text reads back as the same float32 values
    const {
      rows: [parsed],
    } = await pool.query<{ bytes: Buffer }>(`SELECT vector_send('[0.1,-2.5e-7,3]'::vector) AS bytes`);
    assert.deepEqual(vectorFromBytes(parsed.bytes), Float32Array.from([0.1, -2.5e-7, 3]));
  } finally {
    await pool.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the all-in-one database thread runs at the nice value it is given', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-db-'));
  const before = niceOfThreads().filter((n) => n === 6).length;
  const db = await startEmbeddedDatabase(dir, 2, 60_000, 6);
  try {
    assert.equal(niceOfThreads().filter((n) => n === 6).length, before + 1, 'one more thread at nice 6');
    assert.equal(niceOfThread(process.pid), 0);
  } finally {
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
