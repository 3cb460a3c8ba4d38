/**
 * A full disk: the embedded database (PGlite never recovers from ENOSPC) stops writing before the
 * disk fills. The disk is really filled here: the reserve is set just below the free space of the
 * test's file system, and a ballast file takes the rest.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { base64, createMinedTaxonomy, startTestApp, waitForJob, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.ts';
import { StorageGuard } from '../../src/database/storage-guard.ts';

const MB = 1_048_576;
const HEADROOM_MB = 256;
const freeBytes = (dir: string) => {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
};

let app: TestApp;
let taxonomyId: string;
let ballastFile: string;
before(async () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'neglabel-full-'));
  ballastFile = path.join(parent, 'ballast');
  const reserveMb = Math.floor(freeBytes(parent) / MB) - HEADROOM_MB;
  app = await startTestApp({
    NEGLABEL_DATA_DIR: path.join(parent, 'data'),
    NEGLABEL_MIN_FREE_DISK_MB: String(reserveMb),
    NEGLABEL_JOB_POLL_MS: '50',
  });
  taxonomyId = await createMinedTaxonomy(app, 'before-the-disk-filled');
});
after(async () => {
  await app.close();
  rmSync(path.dirname(app.dataDir), { recursive: true, force: true });
});

/** Writes twice the headroom, so the free space ends well below the reserve. */
function fillDisk(): void {
  const fd = openSync(ballastFile, 'w');
  const chunk = Buffer.alloc(16 * MB, 1);
  for (let written = 0; written < 2 * HEADROOM_MB * MB; written += chunk.length) writeSync(fd, chunk);
  closeSync(fd);
}

/** The guard caches free space for a second. */
const afterCache = () => new Promise((resolve) => setTimeout(resolve, 1100));

const SCORE = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }';
const images = [{ data: base64(fixtureImage('images/rgb224.png')) }];
const total = async () => (await app.graphql('{ scoringStats { total } }')).data.scoringStats.total as number;
const readyz = async () => {
  const response = await fetch(`${app.url}/readyz`);
  return {
    status: response.status,
    body: (await response.json()) as { ready: boolean; storage: boolean; hint: string | null },
  };
};

test(
  'a full disk refuses writes with STORAGE_FULL, changes nothing, keeps reads working and makes /readyz not ' +
    'ready; freeing space recovers',
  async (t) => {
    assert.equal((await readyz()).status, 200);
    const recordsBefore = await total();
    const taxonomiesBefore = (await app.graphql('{ taxonomies { totalCount } }')).data.taxonomies.totalCount;

    fillDisk();
    t.after(() => rmSync(ballastFile, { force: true }));
    await afterCache();

    const scored = await app.graphql(SCORE, { i: { taxonomyId, images } });
    assert.equal(scored.errors?.[0].extensions.code, 'STORAGE_FULL', JSON.stringify(scored));
    assert.match(scored.errors![0].message, /nothing was written.*NEGLABEL_MIN_FREE_DISK_MB/);
    const created = await app.graphql(
      'mutation { createTaxonomy(input: { name: "while-full", labels: ["a", "b"] }) { id } }',
    );
    assert.equal(created.errors?.[0].extensions.code, 'STORAGE_FULL');
    const mining = await app.graphql('mutation($t: ID!) { startMining(input: { taxonomyId: $t }) { id } }', {
      t: taxonomyId,
    });
    assert.equal(mining.errors?.[0].extensions.code, 'STORAGE_FULL');

    // nothing changed, and reading still works
    assert.equal(await total(), recordsBefore);
    assert.equal((await app.graphql('{ taxonomies { totalCount } }')).data.taxonomies.totalCount, taxonomiesBefore);
    const embedded = await app.graphql('{ embedTexts(texts: ["a cat"]) }');
    assert.equal(embedded.errors, undefined, 'embedding writes nothing, so it still works');

    const notReady = await readyz();
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.storage, false);
    assert.match(notReady.body.hint ?? '', /below the \d+ MB reserve/);
    const health = (await app.graphql('{ health { status database { storageOk freeDiskBytes } hint } }')).data.health;
    assert.equal(health.status, 'degraded');
    assert.equal(health.database.storageOk, false);
    assert.ok(health.database.freeDiskBytes > 0);

    rmSync(ballastFile);
    await afterCache();
    assert.equal((await readyz()).status, 200);
    const again = await app.graphql(SCORE, { i: { taxonomyId, images } });
    assert.equal(again.errors, undefined, JSON.stringify(again.errors));
    assert.equal(await total(), recordsBefore + 1);
  },
);

test('a mining job that meets a full disk pauses back in the queue and finishes once space is freed', async (t) => {
  // enough corpus that encoding outlasts the free-space check's one-second cache by several
  // checkpoints (one per 4,096-prompt chunk, a few tenths of a second each here): with 12,000
  // words a fast run finished the job inside that second and never saw the disk full
  const corpus = Array.from({ length: 48_000 }, (_, i) => ({ text: `ballast word ${i}`, partOfSpeech: 'NOUN' }));
  const started = await app.graphql(
    'mutation($t: ID!, $c: [CorpusWordInput!]) { startMining(input: { taxonomyId: $t, corpus: $c, groups: 2 }) { ' +
      'id } }',
    { t: taxonomyId, c: corpus },
  );
  assert.equal(started.errors, undefined, JSON.stringify(started.errors));
  const id = started.data.startMining.id;
  const job = async () =>
    (await app.graphql('query($id: ID!) { miningJob(id: $id) { status phase done } }', { id })).data.miningJob;
  let seen: { status: string; phase: string; done: number };
  do seen = await job();
  while (seen.status === 'QUEUED' || (seen.status === 'RUNNING' && seen.phase !== 'encoding-corpus'));
  assert.equal(seen.status, 'RUNNING', 'the job must still be encoding when the disk fills');

  fillDisk();
  t.after(() => rmSync(ballastFile, { force: true }));
  const deadline = Date.now() + 120_000;
  for (seen = await job(); seen.status === 'RUNNING' && Date.now() < deadline; seen = await job()) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(seen.status, 'QUEUED', 'paused, not failed');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal((await job()).status, 'QUEUED', 'no job is taken while the disk is full');

  rmSync(ballastFile);
  const finished = await waitForJob(app, id);
  assert.equal(finished.status, 'SUCCEEDED', finished.error ?? '');
});

test('the embedded database does not even open on a disk below the reserve', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-full-start-'));
  try {
    const guard = new StorageGuard(dir, freeBytes(dir) + 1024 * MB);
    await assert.rejects(
      startEmbeddedPostgres(path.join(dir, 'data'), { maxConnections: 2, idleInTransactionMs: 60_000 }, guard),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'STORAGE_FULL');
        assert.match(error.message, /free space or move NEGLABEL_DATA_DIR/);
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
