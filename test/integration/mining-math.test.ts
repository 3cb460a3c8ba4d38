import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateStatisticsInWorker } from '../../src/jobs/mining-math.ts';
import { candidateStatistics, selectNegatives } from '../../src/neglabel/mining.ts';
import type { CorpusWord } from '../../src/neglabel/corpus.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';

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
