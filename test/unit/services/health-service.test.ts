/**
 * The health report is public (/readyz, the health query): its hints say what to do without the
 * host's file paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { StorageGuard } from '../../../src/database/storage-guard.ts';
import type { Encoder } from '../../../src/inference/encoder.ts';
import { HealthService } from '../../../src/services/health-service.ts';

const MIGRATIONS = path.resolve(import.meta.dirname, '../../../migrations');

test('an unreachable database and a full disk are reported without the paths in the driver message', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-health-'));
  try {
    const socket = path.join(dataDir, '.s.PGSQL.5432');
    const pool = {
      query: async () => {
        throw new Error(`connect ENOENT ${socket}`);
      },
    } as unknown as pg.Pool;
    // a reserve larger than any disk: the guard reports the data folder full
    const storage = new StorageGuard(dataDir, Number.MAX_SAFE_INTEGER);
    const encoder = { models: () => [] } as unknown as Encoder;
    const report = await new HealthService(pool, true, storage, MIGRATIONS, encoder, '0.0.0').report();
    assert.equal(report.database.reachable, false);
    assert.match(report.hint ?? '', /unreachable \(connect ENOENT <path>\)/);
    assert.match(report.hint ?? '', /NEGLABEL_DATA_DIR/);
    assert.ok(!(report.hint ?? '').includes(dataDir), report.hint ?? '');
    assert.ok(!(report.database.error ?? '').includes(dataDir));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
