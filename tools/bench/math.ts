/**
 * Benchmarks 1 and 2 of `npm run bench`: the mining and scoring math of the engine against a
 * straightforward JavaScript implementation and NumPy (when python3 has numpy), same data, one run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { candidateStatisticsInWorker } from '../../src/jobs/mining-math.ts';
import { SimilarityKernel } from '../../src/inference/similarity-kernel.ts';
import { assignGroups } from '../../src/neglabel/grouping.ts';
import { selectNegatives, type CandidateStatistics } from '../../src/neglabel/mining.ts';
import {
  REFERENCE_LOGIT_SCALE,
  scoreFromSimilarities,
  scoreImage,
  type LabelBank,
} from '../../src/neglabel/scoring.ts';
import type { CorpusWord } from '../../src/neglabel/corpus.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';

const NUMPY_SCRIPT = new URL('./numpy_math.py', import.meta.url).pathname;

export function numpyAvailable(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const started = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** The textbook version: a dot-product double loop and a full sort per candidate. */
function naiveStatistics(
  candidates: Float32Array,
  ids: Float32Array,
  dim: number,
  percentile: number,
): CandidateStatistics {
  const n = candidates.length / dim;
  const k = ids.length / dim;
  const quantile = new Float64Array(n);
  const max = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const sims: number[] = [];
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += candidates[c * dim + d] * ids[j * dim + d];
      sims.push(dot);
    }
    sims.sort((a, b) => a - b);
    const pos = percentile * (k - 1);
    const lo = Math.floor(pos);
    quantile[c] = sims[lo] + (sims[Math.min(lo + 1, k - 1)] - sims[lo]) * (pos - lo);
    max[c] = sims[k - 1];
  }
  return { quantile, max };
}

/** A binary file as float64 values (a Buffer may sit at an offset inside a pooled ArrayBuffer). */
function readFloat64(file: string): Float64Array {
  const bytes = readFileSync(file);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

export interface Row {
  [column: string]: string | number;
}

export async function miningBenchmark(n = 140_000, k = 1000, dim = 512): Promise<Row[]> {
  const candidates = randomUnitVectors(n, dim, 1);
  const ids = randomUnitVectors(k, dim, 2);
  const corpus: CorpusWord[] = Array.from({ length: n }, (_, i) => ({
    text: `w${i}`,
    pos: i % 6 === 0 ? 'adjective' : 'noun',
  }));
  const options = { selectionRatio: 0.15, excludeNearDuplicates: false, nearDuplicateThreshold: 0.95 };
  const naive = timed(() => naiveStatistics(candidates, ids, dim, 0.95));
  const engine = await timedAsync(() => candidateStatisticsInWorker(candidates.slice(), ids.slice(), dim, 0.95));
  const reference = selectNegatives(corpus, naive.value, [], options).indices;
  const sameSelection = (stats: CandidateStatistics) => {
    const got = selectNegatives(corpus, stats, [], options).indices;
    return (
      got.length === reference.length &&
      got.every(
        (v, i) => v === reference[i] || Math.abs(naive.value.quantile[v] - naive.value.quantile[reference[i]]) < 1e-6,
      )
    );
  };
  const rows: Row[] = [
    {
      implementation: 'straightforward JavaScript (loops + full sort)',
      seconds: naive.seconds.toFixed(2),
      'vs engine': (naive.seconds / engine.seconds).toFixed(2),
      'max |Δ| vs JS': '0',
      'same selection': 'yes',
    },
    {
      implementation: 'engine (ORT MatMul blocks + quickselect, worker)',
      seconds: engine.seconds.toFixed(2),
      'vs engine': '1.00',
      'max |Δ| vs JS': maxDiff(engine.value.quantile, naive.value.quantile).toExponential(1),
      'same selection': sameSelection(engine.value) ? 'yes' : 'NO',
    },
  ];
  if (numpyAvailable()) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-bench-'));
    try {
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ dim, percentile: 0.95 }));
      writeFileSync(path.join(dir, 'candidates.f32'), candidates);
      writeFileSync(path.join(dir, 'ids.f32'), ids);
      const { seconds } = JSON.parse(execFileSync('python3', [NUMPY_SCRIPT, 'mining', dir], { encoding: 'utf8' }));
      const stats = {
        quantile: readFloat64(path.join(dir, 'quantile.f64')),
        max: readFloat64(path.join(dir, 'max.f64')),
      };
      rows.push({
        implementation: 'NumPy (matmul + np.quantile)',
        seconds: Number(seconds).toFixed(2),
        'vs engine': (seconds / engine.seconds).toFixed(2),
        'max |Δ| vs JS': maxDiff(stats.quantile, naive.value.quantile).toExponential(1),
        'same selection': sameSelection(stats) ? 'yes' : 'NO',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export async function scoringBenchmark(
  batches = [1, 16, 256],
  idCount = 1000,
  negativeCount = 10_499,
  dim = 512,
  groups = 100,
): Promise<Row[]> {
  const { kept, group } = assignGroups(negativeCount, groups, 0);
  const bank: LabelBank = {
    dim,
    idEmbeddings: randomUnitVectors(idCount, dim, 3),
    negativeEmbeddings: randomUnitVectors(kept, dim, 4),
    negativeGroups: group,
    groupCount: groups,
    logitScale: REFERENCE_LOGIT_SCALE,
  };
  const labels = new Float32Array((idCount + kept) * dim);
  labels.set(bank.idEmbeddings);
  labels.set(bank.negativeEmbeddings, idCount * dim);
  const kernel = await SimilarityKernel.create(2);
  const labelsT = SimilarityKernel.transpose(labels, dim);
  const haveNumpy = numpyAvailable();
  const rows: Row[] = [];
  for (const batch of batches) {
    const images = randomUnitVectors(batch, dim, 100 + batch);
    const rowsOf = (i: number) => images.subarray(i * dim, (i + 1) * dim);
    const naive = timed(() => Array.from({ length: batch }, (_, i) => scoreImage(bank, rowsOf(i), 5).score));
    await kernel.multiply(images, labelsT, dim); // warm-up
    const engine = await timedAsync(async () => {
      const sims = await kernel.multiply(images, labelsT, dim);
      const width = idCount + kept;
      return Array.from(
        { length: batch },
        (_, i) =>
          scoreFromSimilarities(
            bank,
            sims.subarray(i * width, i * width + idCount),
            sims.subarray(i * width + idCount, (i + 1) * width),
            5,
          ).score,
      );
    });
    const row: Row = {
      batch,
      'JS images/s': (batch / naive.seconds).toFixed(0),
      'engine images/s': (batch / engine.seconds).toFixed(0),
      'engine vs JS': (naive.seconds / engine.seconds).toFixed(2),
      'max |Δ score|': maxDiff(engine.value, naive.value).toExponential(1),
    };
    if (haveNumpy) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-bench-'));
      try {
        writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ dim, idCount, groupCount: groups }));
        writeFileSync(path.join(dir, 'images.f32'), images);
        writeFileSync(path.join(dir, 'labels.f32'), labels);
        writeFileSync(path.join(dir, 'groups.i32'), group);
        const { seconds } = JSON.parse(execFileSync('python3', [NUMPY_SCRIPT, 'scoring', dir], { encoding: 'utf8' }));
        const scores = readFloat64(path.join(dir, 'score.f64'));
        row['NumPy images/s'] = (batch / seconds).toFixed(0);
        row['engine vs NumPy'] = (seconds / engine.seconds).toFixed(2);
        row['NumPy max |Δ|'] = maxDiff(scores, naive.value).toExponential(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    rows.push(row);
  }
  await kernel.release();
  return rows;
}
