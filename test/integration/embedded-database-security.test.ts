import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import pg from 'pg';
import { SOCKET_NAME } from '../../src/database/embedded-postgres.ts';
import { startEmbeddedDatabase } from '../helpers/database.ts';

/** Inodes of the TCP sockets this process has in LISTEN state (from /proc: no tool needed). */
function listeningTcpSocketsOfThisProcess(): Set<string> {
  const ours = new Set(
    readdirSync('/proc/self/fd')
      .map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return '';
        }
      })
      .filter((link) => link.startsWith('socket:['))
      .map((link) => link.slice(8, -1)),
  );
  const listening = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A' && ours.has(fields[9])) listening.add(fields[9]);
    }
  }
  return listening;
}

function modes(dir: string): Array<{ file: string; mode: number; directory: boolean }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((entry) => {
    const file = path.join(entry.parentPath, entry.name);
    const stat = statSync(file);
    return { file, mode: stat.mode & 0o777, directory: stat.isDirectory() };
  });
}

test('the embedded database opens no TCP port: a Unix socket in a private folder, files 0600', async () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'neglabel-sec-'));
  const dataDir = path.join(parent, 'data');
  const before = listeningTcpSocketsOfThisProcess();
  const db = await startEmbeddedDatabase(dataDir, 4);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
    // files written while running (new relations, WAL) are private too
    await pool.query('CREATE TABLE written_later AS SELECT g AS n FROM generate_series(1, 50000) g');
    await pool.query('CHECKPOINT');
    assert.deepEqual(
      [...listeningTcpSocketsOfThisProcess()].filter((inode) => !before.has(inode)),
      [],
      'no new TCP listener',
    );
    assert.ok(!/:\d+\//.test(db.url), `no host:port in ${db.url}`);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const socket = statSync(path.join(dataDir, SOCKET_NAME));
    assert.ok(socket.isSocket());
    assert.equal(socket.mode & 0o077, 0, 'socket private to its user');
    const entries = modes(dataDir);
    assert.ok(entries.length > 100, 'PGlite wrote its files');
    const open = entries.filter((e) => (e.mode & 0o077) !== 0);
    assert.deepEqual(open.slice(0, 5), [], `${open.length} files or folders others can reach`);
  } finally {
    await pool.end();
    await db.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a data folder others can read or write is refused with the command that fixes it', async () => {
  for (const mode of [0o755, 0o777, 0o750]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-sec-'));
    chmodSync(dir, mode);
    try {
      await assert.rejects(startEmbeddedDatabase(dir, 2), /chmod -R go-rwx/);
      assert.deepEqual(readdirSync(dir), [], 'nothing was created in the refused folder');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a startup packet or message whose length does not cover itself closes that connection only', async () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'neglabel-sec-'));
  const dataDir = path.join(parent, 'data');
  const db = await startEmbeddedDatabase(dataDir, 4);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  /** writes `bytes` on a fresh connection; resolves when the server closes it (or after 5 s: 'open') */
  const send = (bytes: number[]) =>
    new Promise<'closed' | 'open'>((resolve) => {
      const socket = net.connect(path.join(dataDir, SOCKET_NAME));
      const timer = setTimeout(() => {
        socket.destroy();
        resolve('open');
      }, 5000);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.write(Buffer.from(bytes));
    });
  try {
    // length 0 with the SSL request code: before, the server answered 'N' to the same 8 bytes forever
    assert.equal(await send([0, 0, 0, 0, 0x04, 0xd2, 0x16, 0x2f]), 'closed');
    assert.equal(await send([0, 0, 0, 0, 0, 0, 0, 0]), 'closed');
    assert.equal(await send([0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0]), 'closed', 'a negative length');
    // the backend still serves everyone else
    assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
  } finally {
    await pool.end();
    await db.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});
