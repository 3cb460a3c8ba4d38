import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  goals,
  mainTable,
  METHODS,
  renderingTable,
  runBenchmark,
  SPLITS,
  STREAM_METHODS,
  streamTable,
} from './ood-benchmark.ts';
import { RENDERINGS } from './renderings.ts';

test('the benchmark runs every rendering on a small split, with intervals around its estimates', async () => {
  const nearOod = SPLITS.find((s) => s.name.startsWith('mammals'))!;
  const result = await runBenchmark({
    modelDir: path.resolve('models/emoji-clip-small'),
    splits: [nearOod],
    maxImages: 12,
    resamples: 50,
  });
  assert.equal(result.splits.length, 1);
  const split = result.splits[0];
  assert.deepEqual([split.idCount, split.oodCount], [12, 12]);
  assert.ok(split.negatives > 1000);
  assert.deepEqual(
    split.renderings.map((r) => r.rendering),
    RENDERINGS.map((r) => r.name),
  );
  for (const rendering of split.renderings) {
    for (const method of METHODS) {
      const m = rendering.methods[method];
      assert.equal(m.idScores.length, 12);
      for (const key of ['auroc', 'fpr95'] as const) {
        assert.ok(
          m.intervals[key].low <= m[key] + 1e-12 && m[key] <= m.intervals[key].high + 1e-12,
          `${rendering.rendering} ${method} ${key}`,
        );
      }
    }
  }
  const [transparent, white, , , jpeg] = split.renderings;
  // the service composites transparency over white, so these two files are one picture to it
  const diff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  assert.ok(diff(transparent.methods.NegLabel.idScores, white.methods.NegLabel.idScores) < 0.02);
  assert.ok(
    diff(white.methods.NegLabel.idScores, jpeg.methods.NegLabel.idScores) > 0,
    'JPEG artefacts change the embedding',
  );
  // MCM at T = 1 over 66 labels is close to uniform; softmax of 100·cos is a different number
  assert.ok(transparent.methods['MCM (T = 1)'].idScores.every((s) => s > 1 / 66 && s < 0.05));
  assert.equal(result.zeroShotTop1.length, RENDERINGS.length);
  assert.equal(mainTable(result).split('\n').length, 2 + METHODS.length * 2);
  assert.equal(renderingTable(result).split('\n').length, 2 + 3);
  // no animals split in this run: three quality goals, the CSP goal and one memory goal per ratio and method
  assert.equal(goals(result).length, 3 + 1 + 2 * 2);
  assert.ok(split.cspNegatives > 100);
  // streams: the warm-up and test halves are disjoint and keep their ratio
  for (const rendering of split.renderings) {
    assert.deepEqual(
      rendering.streams.map((s) => s.ratio),
      [1, 4],
    );
    for (const stream of rendering.streams) {
      assert.equal(stream.oodCount, stream.ratio * stream.idCount);
      assert.ok(stream.warm > 0 && stream.idCount > 0);
      assert.equal(stream.methods.NegLabel.idScores.length, stream.idCount);
    }
  }
  assert.equal(streamTable(result).split('\n').length, 2 + 2 * STREAM_METHODS.length);
});
