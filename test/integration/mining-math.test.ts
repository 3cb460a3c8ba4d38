import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateStatisticsInWorker, mineInWorker } from '../../src/jobs/mining-math.ts';
import { candidateStatistics, mineNegativeSet, selectNegatives } from '../../src/neglabel/mining.ts';
import type { CorpusWord } from '../../src/neglabel/corpus.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';
import { niceOfThread, niceOfThreads } from '../helpers/threads.ts';

test(
  'the ONNX Runtime mining path equals the JavaScript reference (1e-5) and selects the same negatives up to ' +
    'float ties',
  async () => {
    const dim = 64;
    const n = 9000; // more than one block
    const candidates = randomUnitVectors(n, dim, 5);
    const ids = randomUnitVectors(300, dim, 6);
    const reference = candidateStatistics(candidates, ids, dim, 0.95);
    const fast = await candidateStatisticsInWorker(candidates.slice(), ids.slice(), dim, 0.95);
    let worst = 0;
    for (let i = 0; i < n; i++)
      worst = Math.max(
        worst,
        Math.abs(fast.quantile[i] - reference.quantile[i]),
        Math.abs(fast.max[i] - reference.max[i]),
      );
    assert.ok(worst < 1e-5, `max difference ${worst}`);
    const corpus: CorpusWord[] = Array.from({ length: n }, (_, i) => ({
      text: `w${i}`,
      pos: i % 5 === 0 ? 'adjective' : 'noun',
    }));
    const options = { selectionRatio: 0.15, excludeNearDuplicates: true, nearDuplicateThreshold: 0.95 };
    const a = selectNegatives(corpus, fast, [], options).indices;
    const b = selectNegatives(corpus, reference, [], options).indices;
    assert.equal(a.length, b.length);
    // float32 (ORT) and float64 (reference) sums may order candidates whose quantiles differ by
    // less than 1e-6 differently; anything else must agree exactly, position by position
    a.forEach((index, position) => {
      if (index !== b[position])
        assert.ok(
          Math.abs(reference.quantile[index] - reference.quantile[b[position]]) < 1e-6,
          `rank ${position}: ${index} vs ${b[position]}`,
        );
    });
  },
);

test('the mining-math thread and the ONNX Runtime threads it starts run at the nice value they are given', async () => {
  const dim = 64;
  const before = niceOfThreads().filter((n) => n === 8).length;
  let most = 0;
  // sampled while the worker runs: it and its thread pool exist only for the computation
  const sampler = setInterval(() => {
    most = Math.max(most, niceOfThreads().filter((n) => n === 8).length - before);
  }, 2);
  try {
    await candidateStatisticsInWorker(randomUnitVectors(20_000, dim, 7), randomUnitVectors(300, dim, 8), dim, 0.95, 8);
  } finally {
    clearInterval(sampler);
  }
  // the worker's own thread and ONNX Runtime's second intra-op thread (the caller is the first)
  assert.ok(most >= 2, `threads seen at nice 8: ${most}`);
  assert.equal(niceOfThread(process.pid), 0, 'the calling thread keeps its priority');
});

test('the negative set selected in the mining thread is the one the selection gives on its statistics', async () => {
  const dim = 32;
  const n = 5000;
  const corpus: CorpusWord[] = Array.from({ length: n }, (_, i) => ({
    text: i === 7 ? 'label 3' : `w${i}`, // an exact duplicate of an ID label: excluded
    pos: i % 4 === 0 ? 'adjective' : 'noun',
  }));
  const idLabels = Array.from({ length: 40 }, (_, i) => `label ${i}`);
  const options = {
    selectionRatio: 0.2,
    count: null,
    excludeNearDuplicates: true,
    nearDuplicateThreshold: 0.5,
    groups: 3,
    seed: 11,
  };
  const { stats, mined } = await mineInWorker(randomUnitVectors(n, dim, 1), randomUnitVectors(40, dim, 2), dim, 0.9, {
    corpus,
    idLabels,
    options,
  });
  const expected = mineNegativeSet(corpus, stats, idLabels, options);
  assert.ok(expected.excluded >= 1 && expected.indices.length > 100);
  assert.deepEqual(mined, expected);

  await assert.rejects(
    mineInWorker(randomUnitVectors(10, dim, 3), randomUnitVectors(4, dim, 4), dim, 0.9, {
      corpus: corpus.slice(0, 10),
      idLabels: idLabels.slice(0, 4),
      options: { ...options, groups: 50 },
    }),
    /fewer than groups \(50\)/,
  );
});
