import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { markdownTable, METHODS, runBenchmark, SPLITS } from '../../tools/eval/ood-benchmark.ts';

/** Independent computations from the definitions (pair counting; precision at each positive). */
function pairAuroc(id: number[], ood: number[]): number {
  let wins = 0;
  for (const a of id) for (const b of ood) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (id.length * ood.length);
}
function fpr95(id: number[], ood: number[]): number {
  const thresholds = [...new Set([...id, ...ood])].sort((a, b) => b - a);
  let best = thresholds[0];
  for (const t of thresholds) {
    const gap = (x: number) => Math.abs(id.filter((s) => s >= x).length / id.length - 0.95);
    if (gap(t) < gap(best) - 1e-12) best = t;
  }
  return ood.filter((s) => s >= best).length / ood.length;
}
function averagePrecisionWithoutTies(pos: number[], neg: number[]): number {
  const ranked = [...pos.map((s) => [s, 1]), ...neg.map((s) => [s, 0])].sort((a, b) => b[0] - a[0]);
  let hits = 0;
  let sum = 0;
  ranked.forEach(([, p], i) => {
    if (p) sum += ++hits / (i + 1);
  });
  return sum / pos.length;
}

test('the benchmark runs on a small split and its metrics equal an independent computation', async () => {
  const results = await runBenchmark({ modelDir: path.resolve('models/emoji-clip-small'), splits: [SPLITS[3]], maxImages: 12 });
  assert.equal(results.length, 1);
  const r = results[0];
  assert.equal(r.idCount, 12);
  assert.equal(r.oodCount, 12);
  assert.ok(r.negatives > 1000);
  for (const method of METHODS) {
    const m = r.methods[method];
    assert.equal(m.idScores.length, 12);
    assert.ok(Math.abs(m.auroc - pairAuroc(m.idScores, m.oodScores)) < 1e-12, method);
    assert.ok(Math.abs(m.fpr95 - fpr95(m.idScores, m.oodScores)) < 1e-12, method);
    if (new Set([...m.idScores, ...m.oodScores]).size === 24) {
      assert.ok(Math.abs(m.auprIn - averagePrecisionWithoutTies(m.idScores, m.oodScores)) < 1e-9, method);
      assert.ok(Math.abs(m.auprOut - averagePrecisionWithoutTies(m.oodScores.map((s) => -s), m.idScores.map((s) => -s))) < 1e-9, method);
    }
  }
  const table = markdownTable(results);
  assert.equal(table.split('\n').length, 2 + METHODS.length * 2);
});
