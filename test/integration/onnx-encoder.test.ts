import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { DomainError } from '../../src/errors.ts';
import type { ScoredImage } from '../../src/inference/encoder.ts';
import { OnnxEncoder } from '../../src/inference/onnx-encoder.ts';
import { memoryPenalty } from '../../src/neglabel/memory.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';
import { scoreImage } from '../../src/neglabel/scoring.ts';
import { niceOfThread, niceOfThreads } from '../helpers/threads.ts';
import { FIXTURE_MODEL_DIR, fixtureImage, l2normalize, maxAbsDiff, reference } from '../helpers/fixtures.ts';

let encoder: OnnxEncoder;
const MODEL = 'clip-tiny-random';

before(async () => {
  encoder = await OnnxEncoder.start({
    modelsDir: '/nonexistent',
    defaultModelDir: FIXTURE_MODEL_DIR,
    workers: 2,
    settings: { executionProviders: ['cpu'], preprocessing: 'exact', threadNice: 7 },
    maxBatchSize: 32,
    batchWindowMs: 10,
    maxImagePixels: 1e8,
    cacheEntries: 1000,
  });
});
after(() => encoder.close());

/** A one-worker encoder of the fixture model without a cache, for a test of its own settings. */
function oneWorkerEncoder(options: {
  preprocessing: 'exact' | 'fast';
  maxBatchSize: number;
  batchWindowMs: number;
}): Promise<OnnxEncoder> {
  return OnnxEncoder.start({
    modelsDir: '/nonexistent',
    defaultModelDir: FIXTURE_MODEL_DIR,
    workers: 1,
    settings: { executionProviders: ['cpu'], preprocessing: options.preprocessing, threadNice: 0 },
    maxBatchSize: options.maxBatchSize,
    batchWindowMs: options.batchWindowMs,
    maxImagePixels: 1e8,
    cacheEntries: 0,
  });
}

test('the encoder threads run at the configured nice value, the request thread at its own', () => {
  const nices = niceOfThreads();
  assert.equal(niceOfThread(process.pid), 0, 'the main thread keeps its priority');
  assert.equal(nices.filter((n) => n === 7).length >= 2, true, `two encoder threads at nice 7: ${nices}`);
});

test('the fixture model loads with its dimensions', () => {
  const [model] = encoder.models();
  assert.deepEqual(
    { id: model.id, loaded: model.loaded, dim: model.embeddingDim, size: model.imageSize, ctx: model.contextLength },
    { id: MODEL, loaded: true, dim: 32, size: 224, ctx: 77 },
  );
});

test('text embeddings equal the PyTorch reference within 1e-4 (after L2 normalization)', async () => {
  const { vectors, tokenCounts } = await encoder.embedTexts(
    MODEL,
    reference.texts.map((t) => t.text),
  );
  const worst = Math.max(...reference.texts.map((t, i) => maxAbsDiff(vectors[i], l2normalize(t.text_embeds))));
  assert.ok(worst < 1e-4, `max difference ${worst}`);
  // and each text's token count is the reference tokenizer's, cut at the context length
  assert.deepEqual(
    tokenCounts,
    reference.texts.map((t) => t.ids.length),
  );
});

test('bulk embeddings carry their raw norms: vector × norm is the unnormalized PyTorch projection', async () => {
  const { vectors, norms } = await encoder.embedTextsBulk(
    MODEL,
    reference.texts.map((t) => t.text),
  );
  const worst = Math.max(
    ...reference.texts.map((t, i) => {
      const raw = Array.from(vectors[i], (v) => v * norms[i]);
      return maxAbsDiff(raw, t.text_embeds) / Math.max(...t.text_embeds.map(Math.abs));
    }),
  );
  assert.ok(worst < 1e-4, `max relative difference ${worst}`);
  // the norms differ from text to text, so a mean of raw embeddings is not a mean of unit vectors
  assert.ok(Math.max(...norms) / Math.min(...norms) > 1.05);
});

test('image embeddings equal the reference within 1e-4, resized images included (Pillow alpha dropping)', async (t) => {
  // the reference pipeline is Pillow's convert('RGB'): rgba240.png needs dropAlpha to match it
  const embeddings = await encoder.embedImages(
    MODEL,
    reference.images.map((i) => ({ bytes: fixtureImage(i.file), alpha: 'drop' as const })),
  );
  for (const [i, image] of reference.images.entries()) {
    const diff = maxAbsDiff(embeddings[i] as Float32Array, l2normalize(image.image_embeds));
    t.diagnostic(`${image.file}: max |diff| ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-4, `${image.file}: ${diff}`);
  }
});

test(
  '32 concurrent single-image requests reach the session as a few batched runs, identical to one ' + 'by one',
  async () => {
    const files = reference.images.map((i) => i.file);
    // distinct bytes per request (a trailing byte after the image end), so the cache cannot answer
    const images = Array.from({ length: 32 }, (_, i) =>
      Buffer.concat([fixtureImage(files[i % files.length]), Buffer.from([i, 7])]),
    );
    const before = encoder.stats();
    const concurrent = await Promise.all(images.map((img) => encoder.embedImages(MODEL, [{ bytes: img }])));
    const afterStats = encoder.stats();
    const runs = afterStats.imageRuns - before.imageRuns;
    assert.equal(afterStats.imageItems - before.imageItems, 32);
    assert.ok(runs <= 4, `32 requests took ${runs} session runs`);

    for (const [i, img] of images.entries()) {
      // trailing bytes after the image end change the hash, not the pixels
      const [single] = await encoder.embedImages(MODEL, [{ bytes: Buffer.concat([img, Buffer.from('x')]) }]);
      assert.ok(
        maxAbsDiff(single as Float32Array, concurrent[i][0] as Float32Array) < 1e-5,
        `image ${i} differs between batched and single runs`,
      );
    }
  },
);

test(
  'transparency: hidden colours under transparent pixels do not matter; dropAlpha and backgrounds are cached ' +
    'apart',
  async () => {
    // the same visible picture (a red disc on transparency), stored once with black and once with
    // white under the fully transparent pixels
    const withHidden = (hidden: number) => {
      const size = 64;
      const data = Buffer.alloc(size * size * 4);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const inside = (x - 32) ** 2 + (y - 32) ** 2 < 20 ** 2;
          data.set(inside ? [220, 20, 30, 255] : [hidden, hidden, hidden, 0], (y * size + x) * 4);
        }
      }
      return sharp(data, { raw: { width: size, height: size, channels: 4 } })
        .png()
        .toBuffer();
    };
    const [black, white] = await Promise.all([withHidden(0), withHidden(255)]);
    const [a, b] = await encoder.embedImages(MODEL, [{ bytes: black }, { bytes: white }]);
    assert.ok(
      maxAbsDiff(a as Float32Array, b as Float32Array) < 1e-6,
      'composited over white, the two files are one picture',
    );
    const [droppedBlack, droppedWhite] = await encoder.embedImages(MODEL, [
      { bytes: black, alpha: 'drop' },
      { bytes: white, alpha: 'drop' },
    ]);
    assert.ok(
      maxAbsDiff(droppedBlack as Float32Array, droppedWhite as Float32Array) > 1e-3,
      'Pillow alpha dropping sees the hidden colour',
    );
    // compositing over black equals dropping alpha when the hidden colour is black
    const [overBlack] = await encoder.embedImages(MODEL, [{ bytes: white, alpha: { background: [0, 0, 0] } }]);
    assert.ok(maxAbsDiff(overBlack as Float32Array, droppedBlack as Float32Array) < 1e-6);
    assert.ok(
      maxAbsDiff(overBlack as Float32Array, a as Float32Array) > 1e-3,
      'a different background is a different picture, not a cache hit',
    );
  },
);

test('identical texts and images are served from the cache', async () => {
  await encoder.embedTexts(MODEL, ['a cached sentence']);
  await encoder.embedImages(MODEL, [{ bytes: fixtureImage('images/tiny8.png') }]);
  const before = encoder.stats();
  await encoder.embedTexts(MODEL, ['a cached sentence']);
  await encoder.embedImages(MODEL, [{ bytes: fixtureImage('images/tiny8.png') }]);
  const afterStats = encoder.stats();
  assert.equal(afterStats.textRuns, before.textRuns);
  assert.equal(afterStats.imageRuns, before.imageRuns);
  assert.equal(afterStats.textCacheHits - before.textCacheHits, 1);
  assert.equal(afterStats.imageCacheHits - before.imageCacheHits, 1);
});

test('an image is served from the cache only to the scope that sent it: another key embeds it afresh', async () => {
  const image = fixtureImage('images/gray256.png');
  const [first] = await encoder.embedImages(MODEL, [{ bytes: image, cacheScope: 'key:a' }]);
  const before = encoder.stats();
  const [again] = await encoder.embedImages(MODEL, [{ bytes: image, cacheScope: 'key:a' }]);
  const afterOwn = encoder.stats();
  assert.equal(afterOwn.imageCacheHits - before.imageCacheHits, 1);
  assert.equal(afterOwn.imageRuns, before.imageRuns);
  const [other] = await encoder.embedImages(MODEL, [{ bytes: image, cacheScope: 'key:b' }]);
  const afterOther = encoder.stats();
  assert.equal(afterOther.imageCacheHits, afterOwn.imageCacheHits, 'no hit for another scope');
  assert.equal(afterOther.imageRuns - afterOwn.imageRuns, 1, 'the other scope ran the model');
  assert.deepEqual(other, first);
  assert.deepEqual(again, first);
});

test('a bad image fails alone; its neighbours in the batch still embed', async () => {
  const results = await Promise.all([
    encoder.embedImages(MODEL, [{ bytes: Buffer.from('garbage bytes') }]),
    encoder.embedImages(MODEL, [{ bytes: fixtureImage('images/rgb224b.png') }]),
  ]);
  assert.equal((results[0][0] as { code: string }).code, 'INVALID_IMAGE');
  assert.ok(results[1][0] instanceof Float32Array);
});

test('padding a text batch to its longest row gives the same embeddings as encoding alone', async () => {
  const texts = ['a', 'a much longer sentence about a dog running on the beach at sunset with friends'];
  const together = await encoder.embedTextsBulk(MODEL, texts);
  const alone = await Promise.all(texts.map((t) => encoder.embedTextsBulk(MODEL, [t])));
  texts.forEach((_, i) => {
    assert.ok(maxAbsDiff(together.vectors[i], alone[i].vectors[0]) < 1e-5);
    assert.ok(Math.abs(together.norms[i] - alone[i].norms[0]) < 1e-4 * alone[i].norms[0]);
  });
});

test(
  'NEGLABEL_PREPROCESSING=fast encodes through the workers, close to the exact path (which stays ' + 'the default)',
  async () => {
    const fast = await oneWorkerEncoder({ preprocessing: 'fast', maxBatchSize: 8, batchWindowMs: 1 });
    try {
      const files = ['images/rgb640x480.jpg', 'images/rgba240.png'];
      const images = files.map((file) => ({ bytes: fixtureImage(file) }));
      const [exactEmbeddings, fastEmbeddings] = [
        await encoder.embedImages(MODEL, images),
        await fast.embedImages(MODEL, images),
      ];
      for (let i = 0; i < images.length; i++) {
        const [a, b] = [exactEmbeddings[i] as Float32Array, fastEmbeddings[i] as Float32Array];
        const cosine = a.reduce((s, v, j) => s + v * b[j], 0);
        assert.ok(cosine > 0.99 && cosine < 1 - 1e-7, `${files[i]}: cosine ${cosine} (close, and not the same path)`);
      }
    } finally {
      await fast.close();
    }
  },
);

test('a dropped scoring head is forgotten by every encoder worker, so their memory stays bounded', async () => {
  const dim = 4;
  const unit = (i: number) => Float32Array.from({ length: dim }, (_, d) => (d === i % dim ? 1 : 0));
  const bank = () => ({
    dim,
    idEmbeddings: unit(0),
    negativeEmbeddings: unit(1),
    negativeGroups: Int32Array.of(0),
    groupCount: 1,
    logitScale: 100,
  });
  const before = await encoder.headsPerWorker();
  for (let t = 0; t < 20; t++) {
    await encoder.loadHead(`taxonomy-${t}`, bank());
    // what the scoring service's cache of 8 banks does when it evicts
    if (t >= 8) encoder.dropHead(`taxonomy-${t - 8}`);
  }
  assert.deepEqual(
    await encoder.headsPerWorker(),
    before.map((n) => n + 8),
  );
  for (let t = 12; t < 20; t++) encoder.dropHead(`taxonomy-${t}`);
  assert.deepEqual(await encoder.headsPerWorker(), before);
});

test('an image is embedded and scored in one worker request, with the scores of the pure NegLabel math', async () => {
  const dim = 32;
  const bank = {
    dim,
    idEmbeddings: randomUnitVectors(10, dim, 1),
    negativeEmbeddings: randomUnitVectors(40, dim, 2),
    negativeGroups: Int32Array.from({ length: 40 }, (_, i) => i % 4),
    groupCount: 4,
    logitScale: 100,
  };
  await encoder.loadHead('one-pass', bank);
  const members = randomUnitVectors(8, dim, 3);
  const arena = new SharedArrayBuffer(members.byteLength);
  new Float32Array(arena).set(members);
  const rows = Int32Array.from({ length: 8 }, (_, i) => i);
  const head = { key: 'one-pass', topK: 3, memory: { arena, rows } };
  const files = ['images/rgb224.png', 'images/rgb300x200.jpg', 'images/rgb640x480.jpg'];
  const images = files.map((file) => ({ bytes: fixtureImage(file), cacheScope: 'one-pass' }));
  const check = (scored: Array<ScoredImage | DomainError>) =>
    scored.map((s, i) => {
      assert.ok(!(s instanceof DomainError), `${files[i]}: ${(s as DomainError).message}`);
      const expected = scoreImage(bank, s.embedding, 3);
      assert.ok(Math.abs(s.result.score - expected.score) < 1e-5, `${files[i]}: ${s.result.score} ${expected.score}`);
      assert.deepEqual(
        s.result.topLabels.map((m) => m.index),
        expected.topLabels.map((m) => m.index),
      );
      assert.ok(Math.abs(s.penalty! - memoryPenalty(s.embedding, members, rows, dim)) < 1e-5);
      return s;
    });
  try {
    const before = encoder.stats();
    const first = check(await encoder.embedAndScore(MODEL, images, head));
    const afterFirst = encoder.stats();
    assert.equal(afterFirst.workerRequests - before.workerRequests, 1, 'embedding and scoring took one request');
    assert.equal(afterFirst.imageItems - before.imageItems, files.length);
    // cached now: no image reaches the vision model, and all are scored in one request of their own
    const again = check(await encoder.embedAndScore(MODEL, images, head));
    const afterAgain = encoder.stats();
    assert.equal(afterAgain.imageItems, afterFirst.imageItems);
    assert.equal(afterAgain.workerRequests - afterFirst.workerRequests, 1);
    assert.deepEqual(
      again.map((s) => (s as ScoredImage).result),
      first.map((s) => (s as ScoredImage).result),
    );
    // the same picture twice in one request is embedded once; both copies get its scores
    const twice = [{ bytes: fixtureImage('images/rgb224b.png'), cacheScope: 'one-pass' }];
    const [a, b] = check(await encoder.embedAndScore(MODEL, [...twice, ...twice], head)) as ScoredImage[];
    assert.deepEqual(a.result, b.result);
  } finally {
    encoder.dropHead('one-pass');
  }
});

test('an idle worker takes a lone request at once; the window collects requests while workers are busy', async () => {
  // a window longer than the test's patience: a request that waited for it would never answer in time
  const patient = await oneWorkerEncoder({ preprocessing: 'exact', maxBatchSize: 32, batchWindowMs: 600_000 });
  const timeout = (ms: number) =>
    new Promise<'waited for the window'>((resolve) => setTimeout(() => resolve('waited for the window'), ms).unref());
  try {
    const image = { bytes: fixtureImage('images/rgb224.png') };
    const lone = await Promise.race([patient.embedImages(MODEL, [image]), timeout(30_000)]);
    assert.ok(Array.isArray(lone) && lone[0] instanceof Float32Array, `a lone request: ${lone}`);
    // requests of one turn of the event loop still share one run
    const before = patient.stats();
    const together = await Promise.race([
      Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          patient.embedImages(MODEL, [{ bytes: Buffer.concat([image.bytes, Buffer.from([i])]) }]),
        ),
      ),
      timeout(30_000),
    ]);
    assert.ok(Array.isArray(together), `six requests of one turn: ${together}`);
    assert.equal(patient.stats().imageRuns - before.imageRuns, 1, 'six requests of one turn, one session run');
  } finally {
    await patient.close();
  }
});
