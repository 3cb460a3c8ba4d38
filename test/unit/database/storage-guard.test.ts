import { test } from 'node:test';
import assert from 'node:assert/strict';
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
