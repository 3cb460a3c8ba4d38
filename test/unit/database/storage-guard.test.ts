import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embeddedDataDirOf } from '../../../src/database/database.ts';
import { LOCK_FILE } from '../../../src/database/embedded-postgres.ts';
import { StorageGuard } from '../../../src/database/storage-guard.ts';

test('an external database reported full stays not writable for a minute, then writes are tried again', () => {
  let now = 1_000_000;
  const guard = new StorageGuard(null, 256 * 1_048_576, () => now);
  assert.equal(guard.status().full, false);
  assert.equal(guard.status().freeBytes, null, 'an external disk is not ours to measure');
  guard.noteDiskFull();
  assert.equal(guard.status().full, true);
  assert.throws(
    () => guard.assertWritable(),
    (error: Error & { code?: string }) => error.code === 'STORAGE_FULL' && /nothing was written/.test(error.message),
  );
  now += 59_000;
  assert.equal(guard.status().full, true);
  now += 2_000;
  assert.equal(guard.status().full, false);
  assert.doesNotThrow(() => guard.assertWritable());
});

test(
  "processes on a db process's socket watch that data folder's disk; other databases are not theirs to " + 'measure',
  () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-socket-'));
    try {
      const url = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`;
      assert.equal(embeddedDataDirOf(url), null, 'a socket folder without the lock file is some other Postgres');
      writeFileSync(path.join(dir, LOCK_FILE), '1');
      assert.equal(embeddedDataDirOf(url), dir);
      assert.equal(embeddedDataDirOf('postgresql://u:p@db.example:5432/neglabel'), null);
      assert.equal(embeddedDataDirOf('postgresql://u@localhost/x?host=/var/run/postgresql'), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
