/**
 * Thumbnails for audit: off by default; when a taxonomy keeps them, each scored image gets a small
 * WebP that auditors read with its record, until its retention ends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
let taxonomyId: string;
before(async () => {
  app = await startTestApp({});
  taxonomyId = await createMinedTaxonomy(app, 'thumbs');
});
after(() => app.close());

async function scoreOne(file: string): Promise<string> {
  const { data, errors } = await app.graphql(
    'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }',
    { i: { taxonomyId, images: [{ data: fixtureImage(file).toString('base64') }] } },
  );
  assert.equal(errors, undefined, JSON.stringify(errors));
  return data.scoreImages[0].recordId;
}

async function thumbnailOf(recordId: string): Promise<string | null> {
  const { data } = await app.graphql('query($id: ID!) { scoringRecord(id: $id) { thumbnail } }', { id: recordId });
  return data.scoringRecord.thumbnail;
}

const thumbnailRows = async () =>
  (await app.database.pool.query('SELECT count(*)::int AS n FROM scoring_thumbnails')).rows[0].n as number;

test('no thumbnail is kept by default', async () => {
  const { data } = await app.graphql('query($t: ID!) { taxonomy(id: $t) { storeThumbnails thumbnailRetentionDays } }', {
    t: taxonomyId,
  });
  assert.deepEqual(data.taxonomy, { storeThumbnails: false, thumbnailRetentionDays: 30 });
  const id = await scoreOne('images/rgb640x480.jpg');
  assert.equal(await thumbnailOf(id), null);
  assert.equal(await thumbnailRows(), 0);
});

test('with thumbnails on, a ≤96 px WebP is kept per image until its retention ends', async () => {
  const set = await app.graphql(
    'mutation($t: ID!) { setThumbnailPolicy(taxonomyId: $t, storeThumbnails: true, retentionDays: 2) { ' +
      'storeThumbnails thumbnailRetentionDays } }',
    { t: taxonomyId },
  );
  assert.deepEqual(set.data.setThumbnailPolicy, { storeThumbnails: true, thumbnailRetentionDays: 2 });
  const id = await scoreOne('images/rgb640x480.jpg');
  const thumbnail = await thumbnailOf(id);
  assert.match(thumbnail ?? '', /^data:image\/webp;base64,/);
  const meta = await sharp(Buffer.from(thumbnail!.split(',')[1], 'base64')).metadata();
  assert.equal(meta.format, 'webp');
  assert.deepEqual([meta.width, meta.height], [96, 72], '640x480 fits 96 px on its longer side');

  // one day on, it stays; three days on (past two), retention deletes it
  const { history } = app.services;
  const day = 86_400_000;
  assert.equal(await history.purgeExpiredThumbnails(new Date(Date.now() + day)), 0);
  assert.notEqual(await thumbnailOf(id), null);
  assert.equal(await history.purgeExpiredThumbnails(new Date(Date.now() + 3 * day)), 1);
  assert.equal(await thumbnailOf(id), null);
  assert.equal(await thumbnailRows(), 0);

  const bad = await app.graphql(
    'mutation($t: ID!) { setThumbnailPolicy(taxonomyId: $t, storeThumbnails: true, retentionDays: 0) { id } }',
    { t: taxonomyId },
  );
  assert.equal(bad.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  const log = await app.graphql('{ auditLog(first: 5) { edges { node { action target } } } }');
  assert.ok(log.data.auditLog.edges.some((e: { node: { action: string } }) => e.node.action === 'setThumbnailPolicy'));
});

test('each record of a multi-image request gets its own image, hash and thumbnail, in request order', async () => {
  const files = ['images/rgb300x200.png', 'images/rgb224.png', 'images/rgb640x480.jpg'];
  const { data, errors } = await app.graphql(
    'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId imageHash filename } }',
    { i: { taxonomyId, images: files.map((f) => ({ data: fixtureImage(f).toString('base64'), filename: f })) } },
  );
  assert.equal(errors, undefined, JSON.stringify(errors));
  const ids = data.scoreImages.map((s: { recordId: string }) => Number(s.recordId));
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids follow the request order',
  );
  const expectedSizes = [
    [96, 64],
    [96, 96],
    [96, 72],
  ];
  for (const [index, file] of files.entries()) {
    const { recordId, imageHash, filename } = data.scoreImages[index];
    assert.equal(filename, file);
    const record = await app.graphql('query($id: ID!) { scoringRecord(id: $id) { imageHash filename thumbnail } }', {
      id: recordId,
    });
    assert.deepEqual([record.data.scoringRecord.imageHash, record.data.scoringRecord.filename], [imageHash, file]);
    const meta = await sharp(Buffer.from(record.data.scoringRecord.thumbnail.split(',')[1], 'base64')).metadata();
    assert.deepEqual([meta.width, meta.height], expectedSizes[index], `${file}'s own thumbnail`);
  }
});
