/**
 * Several processes on one embedded database: PGlite is one backend, so the server must hand it to
 * one connection at a time for a whole transaction or extended-protocol exchange. Before, three
 * processes with eight connections each failed with "unnamed prepared statement does not exist"
 * and lost transactions; here every transaction must commit whole and every statement answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../helpers/database.ts';

const PROCESSES = 3;
const CONNECTIONS = 8;
const TRANSACTIONS = 25;

/** One client process: 8 connections, each running transactions of parameterised statements. */
const CLIENT = `
import pg from 'pg';
const [url, name] = process.argv.slice(1);
const clients = await Promise.all(Array.from({ length: ${CONNECTIONS} }, async () => {
  const c = new pg.Client(url);
  await c.connect();
  return c;
}));
const failures = [];
await Promise.all(clients.map(async (client, c) => {
  for (let t = 0; t < ${TRANSACTIONS}; t++) {
    try {
      await client.query('BEGIN');
      const { rows } = await client.query('INSERT INTO ledger (who, n) VALUES ($1, $2) ' +
        'RETURNING id', [name + ':' + c, t]);
      await client.query('INSERT INTO ledger (who, n) VALUES ($1, $2)', [name + ':' + c, -t]);
      const check = await client.query('SELECT count(*)::int AS k FROM ledger WHERE id = $1', [rows[0].id]);
      if (check.rows[0].k !== 1) throw new Error('own row not visible');
      await client.query('COMMIT');
      // and extended-protocol statements outside a transaction
      const sum = await client.query('SELECT coalesce(sum(n), 0)::int AS s FROM ledger WHERE ' +
        'who = $1', [name + ':' + c]);
      if (sum.rows[0].s !== 0) throw new Error('unbalanced: ' + sum.rows[0].s);
    } catch (error) {
      failures.push(error.message);
      await client.query('ROLLBACK').catch(() => {});
    }
  }
}));
await Promise.all(clients.map((c) => c.end()));
console.log(JSON.stringify({ failures }));
`;

function runClient(url: string, name: string): Promise<{ failures: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CLIENT, url, name], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client ${name} exited with ${code}: ${out}`)),
    );
  });
}

test(
  `${PROCESSES} processes x ${CONNECTIONS} connections run concurrent transactions on the embedded database ` +
    `without interleaving`,
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-many-'));
    const db = await startEmbeddedDatabase(path.join(dir, 'data'), PROCESSES * CONNECTIONS + 2);
    const admin = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await admin.query('CREATE TABLE ledger (id serial PRIMARY KEY, who text NOT NULL, n int NOT NULL)');
      const results = await Promise.all(Array.from({ length: PROCESSES }, (_, p) => runClient(db.url, `p${p}`)));
      assert.deepEqual(
        results.flatMap((r) => r.failures),
        [],
      );
      const { rows } = await admin.query(
        'SELECT count(*)::int AS rows, count(DISTINCT who)::int AS writers, sum(n)::int AS total FROM ledger',
      );
      assert.deepEqual(rows[0], {
        rows: PROCESSES * CONNECTIONS * TRANSACTIONS * 2,
        writers: PROCESSES * CONNECTIONS,
        total: 0,
      });
    } finally {
      await admin.end();
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a connection that dies inside a transaction is rolled back, and one that sits idle in a transaction is cut ' + 'off',
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-many-'));
    const db = await startEmbeddedDatabase(path.join(dir, 'data'), 6, 1_000);
    const other = new pg.Client(db.url);
    await other.connect();
    try {
      await other.query('CREATE TABLE t (v int)');
      const dying = new pg.Client(db.url);
      dying.on('error', () => {});
      await dying.connect();
      await dying.query('BEGIN');
      await dying.query('INSERT INTO t VALUES (1)');
      (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      assert.equal(
        (await other.query('SELECT count(*)::int AS n FROM t')).rows[0].n,
        0,
        'the dead transaction was rolled back',
      );

      const idle = new pg.Client(db.url);
      idle.on('error', () => {});
      await idle.connect();
      await idle.query('BEGIN');
      await idle.query('INSERT INTO t VALUES (2)');
      const started = Date.now();
      // waits for the idle owner, which is cut off after a second, not forever
      assert.equal((await other.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 0);
      assert.ok(Date.now() - started >= 900, 'the other connection had to wait for its turn');
      await assert.rejects(idle.query('COMMIT'));
    } finally {
      await other.end();
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
