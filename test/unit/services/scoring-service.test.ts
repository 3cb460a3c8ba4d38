/**
 * ScoringService over the shared fakes (test/helpers/fakes.ts): what a scoring request answers and
 * records, which threshold decides, that bad input changes nothing, idempotent retries, and the
 * heads it keeps in the encoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainError } from '../../../src/errors.ts';
import { scoreImage } from '../../../src/neglabel/scoring.ts';
import { base64 } from '../../helpers/app.ts';
import { fixtureImage } from '../../helpers/fixtures.ts';
import { scoringWorld } from '../../helpers/fakes.ts';

const image = (file: string) => ({ data: base64(fixtureImage(`images/${file}`)), filename: file });
const caller = { name: 'scorer', keyId: 'key-1' };

test('each image scores as the NegLabel math scores its embedding, recorded with the taxonomy decision', async () => {
  const world = scoringWorld();
  const files = ['rgb224.png', 'rgb224b.png'];
  const answers = await world.service.score({ taxonomyId: world.taxonomy.id, images: files.map(image) }, caller);
  assert.equal(answers.length, 2);
  for (const [i, answer] of answers.entries()) {
    const row = world.history.rows[i];
    const expected = scoreImage(world.bank, row.imageEmbedding, 5);
    assert.ok(Math.abs(answer.score - expected.score) < 1e-9);
    assert.equal(answer.predictedLabel, world.version.labels[expected.predictedIndex]);
    assert.deepEqual(
      answer.topNegatives.map((m) => m.label),
      expected.topNegatives.map((m) => `negative${m.index}`),
    );
    assert.equal(answer.isOOD, expected.score < 0.5);
    assert.equal(answer.recordId, row.id);
    assert.deepEqual(
      {
        caller: row.caller,
        taxonomyId: row.taxonomyId,
        negativeSetId: row.negativeSetId,
        modelId: row.modelId,
        threshold: row.threshold,
        space: row.thresholdSpace,
        isOod: row.isOod,
        requested: row.requested,
        filename: row.filename,
        adaptive: row.adaptive,
      },
      {
        caller: 'scorer',
        taxonomyId: world.taxonomy.id,
        negativeSetId: 'set-1',
        modelId: 'fake',
        threshold: 0.5,
        space: 'SCORE',
        isOod: expected.score < 0.5,
        requested: null,
        filename: files[i],
        adaptive: null,
      },
    );
  }
  // embedded and scored in one pass: no separate scoring call reached the encoder
  assert.deepEqual(
    world.encoder.calls.map((c) => c.kind),
    ['load-head', 'images'],
  );
});

test("a caller's own threshold decides its answer; the record keeps the taxonomy's decision beside it", async () => {
  const world = scoringWorld();
  const [low] = await world.service.score(
    { taxonomyId: world.taxonomy.id, images: [image('rgb224.png')], threshold: -1e9 },
    caller,
  );
  const [high] = await world.service.score(
    { taxonomyId: world.taxonomy.id, images: [image('rgb224.png')], threshold: 1e9 },
    caller,
  );
  assert.deepEqual([low.isOOD, high.isOOD], [false, true]);
  const [first, second] = world.history.rows;
  assert.equal(first.isOod, second.isOod, 'the shared decision does not depend on the caller');
  assert.deepEqual(first.requested, { threshold: -1e9, thresholdSpace: 'SCORE', isOod: false });
  assert.deepEqual(second.requested, { threshold: 1e9, thresholdSpace: 'SCORE', isOod: true });
});

test('bad input is refused with its code before any image is read or encoded, and nothing is recorded', async () => {
  const world = scoringWorld();
  const refused = async (input: object, code: string) =>
    assert.rejects(
      world.service.score({ taxonomyId: world.taxonomy.id, images: [image('rgb224.png')], ...input }, caller),
      (error: DomainError) => error.code === code,
    );
  await refused({ topK: 0 }, 'INVALID_PARAMETER');
  await refused({ topK: 51 }, 'INVALID_PARAMETER');
  await refused({ thresholdSpace: 'ADAPTIVE_SCORE' }, 'INVALID_PARAMETER');
  await refused({ threshold: Number.NaN }, 'INVALID_PARAMETER');
  await refused({ idempotencyKey: 'a\u200bb' }, 'INVALID_PARAMETER');
  await refused({ images: [image('rgb224.png'), { data: 'not base64 %%%' }] }, 'INVALID_BASE64');
  assert.deepEqual(world.encoder.calls, []);
  assert.deepEqual(world.history.rows, []);
});

test('a retry with the same idempotency key answers the first records; reused for other images, refused', async () => {
  const world = scoringWorld();
  const request = { taxonomyId: world.taxonomy.id, images: [image('rgb224.png')], idempotencyKey: 'retry-1' };
  const [first] = await world.service.score(request, caller);
  const encoded = world.encoder.calls.length;
  const [again] = await world.service.score(request, caller);
  assert.equal(again.recordId, first.recordId);
  assert.equal(again.score, first.score);
  assert.equal(world.history.rows.length, 1, 'no second record');
  assert.equal(world.encoder.calls.length, encoded, 'the retry encoded nothing');
  await assert.rejects(
    world.service.score({ ...request, images: [image('rgb224b.png')] }, caller),
    (error: DomainError) => error.code === 'IDEMPOTENCY_KEY_REUSED',
  );
  // another key's identical key names its own request
  const [other] = await world.service.score(request, { name: 'other', keyId: 'key-2' });
  assert.notEqual(other.recordId, first.recordId);
});

const svg = { data: base64(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), filename: 'logo.svg' };

test('scoreEach answers a bad image with its own coded error in its place, scores and records the others', async () => {
  const world = scoringWorld();
  const images = [image('rgb224.png'), svg, { data: 'not base64 %%%', filename: 'b.png' }, image('rgb224b.png')];
  const answers = await world.service.scoreEach({ taxonomyId: world.taxonomy.id, images }, caller);
  assert.deepEqual(
    answers.map((a) => [a.index, a.filename, 'code' in a ? a.code : 'scored']),
    [
      [0, 'rgb224.png', 'scored'],
      [1, 'logo.svg', 'INVALID_IMAGE'],
      [2, 'b.png', 'INVALID_BASE64'],
      [3, 'rgb224b.png', 'scored'],
    ],
  );
  const [, decodeFailure, base64Failure] = answers as Array<{ message: string }>;
  assert.match(decodeFailure.message, /^images\[1\] \(logo\.svg\): not an image/);
  assert.match(base64Failure.message, /^images\[2\]\.data is not valid base64/);
  // only the two good images were recorded, each answer naming its own record
  assert.deepEqual(
    world.history.rows.map((r) => r.filename),
    ['rgb224.png', 'rgb224b.png'],
  );
  const scored = [answers[0], answers[3]] as Array<{ recordId: string; score: number; imageHash: string }>;
  assert.deepEqual(
    scored.map((a) => [a.recordId, a.imageHash]),
    world.history.rows.map((r) => [r.id, r.imageHash]),
  );
  // the undecodable image reached the encoder (it failed there), the bad base64 did not
  assert.deepEqual(
    world.encoder.calls.filter((c) => c.kind === 'images').map((c) => c.count),
    [3],
  );
  // the same request, all or nothing, fails with the first bad image and records nothing more
  await assert.rejects(
    world.service.score({ taxonomyId: world.taxonomy.id, images }, caller),
    (error: DomainError) => error.code === 'INVALID_BASE64',
  );
  await assert.rejects(
    world.service.score({ taxonomyId: world.taxonomy.id, images: [image('rgb224.png'), svg] }, caller),
    (error: DomainError) => error.code === 'INVALID_IMAGE' && error.details?.index === 1,
  );
  assert.equal(world.history.rows.length, 2);
});

test('scoreEach still refuses an error of the request whole: bad options, the batch limit', async () => {
  const world = scoringWorld();
  const request = { taxonomyId: world.taxonomy.id, images: [image('rgb224.png'), svg] };
  await assert.rejects(world.service.scoreEach({ ...request, topK: 0 }, caller), (error: DomainError) => {
    return error.code === 'INVALID_PARAMETER';
  });
  await assert.rejects(
    world.service.scoreEach({ ...request, images: [image('rgb224.png'), { ...svg, background: 'red' }] }, caller),
    (error: DomainError) => error.code === 'INVALID_PARAMETER' && error.details?.index === 1,
  );
  await assert.rejects(
    world.service.scoreEach({ ...request, images: Array.from({ length: 5 }, () => svg) }, caller),
    (error: DomainError) => error.code === 'BATCH_TOO_LARGE',
  );
  assert.deepEqual(world.history.rows, []);
});

test('a retried partial batch answers the same scores and failures; an all-failed one takes no key', async () => {
  const world = scoringWorld();
  const request = { taxonomyId: world.taxonomy.id, images: [svg, image('rgb224.png')], idempotencyKey: 'batch-1' };
  const first = await world.service.scoreEach(request, caller);
  const calls = world.encoder.calls.length;
  const again = await world.service.scoreEach(request, caller);
  assert.deepEqual(again, first);
  assert.equal(world.encoder.calls.length, calls, 'the retry encoded nothing');
  assert.equal(world.history.rows.length, 1);
  // the key names a batch answered image by image: the all-or-nothing mutation does not share it
  await assert.rejects(world.service.score(request, caller), (error: DomainError) => {
    return error.code === 'IDEMPOTENCY_KEY_REUSED';
  });
  const failedOnly = { ...request, images: [svg], idempotencyKey: 'batch-2' };
  const failed = await world.service.scoreEach(failedOnly, caller);
  assert.deepEqual(
    failed.map((a) => 'code' in a && a.code),
    ['INVALID_IMAGE'],
  );
  assert.equal(world.history.rows.length, 1, 'nothing recorded');
  // nothing was recorded, so the key is still free for the request the caller sends instead
  const retried = await world.service.scoreEach({ ...failedOnly, images: [image('rgb224b.png')] }, caller);
  assert.equal('recordId' in retried[0], true);
});

test('a version without an active negative set is refused with what to do, and no head is loaded', async () => {
  const world = scoringWorld();
  world.version.activeNegativeSetId = null;
  await assert.rejects(
    world.service.score({ taxonomyId: world.taxonomy.id, images: [image('rgb224.png')] }, caller),
    (error: DomainError) => error.code === 'NO_ACTIVE_NEGATIVE_SET' && /startMining/.test(error.message),
  );
  assert.equal(world.encoder.heads.size, 0);
});

test('the head is loaded once and reused; adaptive requests carry the memory and record its snapshot', async () => {
  const members = new Float32Array(5 * 8);
  members.fill(1 / Math.sqrt(8));
  const arena = new SharedArrayBuffer(members.byteLength);
  new Float32Array(arena).set(members);
  let released = 0;
  const world = scoringWorld({
    policy: { maxSize: 16, maxFraction: 0.1, maxCallerShare: 0.25 },
    snapshot: async () => ({
      snapshotId: '41',
      size: 5,
      rows: { arena, rows: Int32Array.of(0, 1, 2, 3, 4) },
      release: () => {
        released++;
      },
    }),
  });
  await world.service.score({ taxonomyId: world.taxonomy.id, images: [image('rgb224.png')] }, caller);
  const [adaptive] = await world.service.score(
    { taxonomyId: world.taxonomy.id, images: [image('rgb224b.png')], adaptive: true },
    caller,
  );
  assert.equal(world.encoder.calls.filter((c) => c.kind === 'load-head').length, 1);
  const row = world.history.rows[1];
  const penalty = row.imageEmbedding.reduce((sum, v) => sum + v / Math.sqrt(8), 0);
  assert.ok(Math.abs(adaptive.adaptiveScore! - (adaptive.score - penalty)) < 1e-6);
  assert.deepEqual(row.adaptive, { adaptiveScore: adaptive.adaptiveScore, memorySnapshotId: '41', memorySize: 5 });
  assert.equal(released, 1, 'the snapshot was released');
});
