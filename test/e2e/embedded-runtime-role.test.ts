/**
 * The embedded database has one superuser session shared by every process: a runtime role there
 * would switch every process's role and protect nothing, so the start is refused with one line.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp } from '../helpers/app.ts';
import { startEmbeddedDatabase } from '../helpers/database.ts';

test('NEGLABEL_DATABASE_ROLE on the embedded database stops the start with one line', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-role-'));
  // both shapes: the service's own embedded database, and a db process's socket as DATABASE_URL
  const db = await startEmbeddedDatabase(path.join(dir, 'shared'), 4);
  try {
    for (const env of <Array<Record<string, string>>>[
      { NEGLABEL_DATA_DIR: path.join(dir, 'own') },
      { NEGLABEL_DATA_DIR: path.join(dir, 'client'), DATABASE_URL: db.url },
    ]) {
      await assert.rejects(
        startTestApp({ ...env, NEGLABEL_DATABASE_ROLE: 'neglabel_runtime' }),
        /^Error: NEGLABEL_DATABASE_ROLE=neglabel_runtime protects nothing on the embedded database .*: unset it/,
        JSON.stringify(Object.keys(env)),
      );
    }
  } finally {
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
