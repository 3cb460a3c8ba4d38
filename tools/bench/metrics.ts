/**
 * OOD metrics at scale: all six metrics of `oodMetrics` for n ID + n OOD scores, against the floor
 * of sorting the same 2n numbers once, and at two sizes, so that the growth (n log n, not n²) is
 * visible side by side in one run.
 */
import { mulberry32 } from '../../src/neglabel/random.ts';
import { oodMetrics } from '../../src/neglabel/metrics.ts';
import type { Row } from './math.ts';

function scores(n: number, shift: number, seed: number): number[] {
  const random = mulberry32(seed);
  // rounded to 1e-4 so that ties occur, as they do with saturated scores
  return Array.from({ length: n }, () => Math.round((random() + random() + shift) * 1e4) / 1e4);
}

export function metricsBenchmark(sizes = [100_000, 1_000_000]): Row[] {
  const rows: Row[] = [];
  let previous: { n: number; seconds: number } | null = null;
  for (const n of sizes) {
    const id = scores(n, 0.5, 1);
    const ood = scores(n, 0, 2);
    let started = performance.now();
    Float64Array.from([...id, ...ood]).sort();
    const sortSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const m = oodMetrics(id, ood);
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      'ID + OOD scores': `${n.toLocaleString('en')} + ${n.toLocaleString('en')}`,
      'all metrics, s': seconds.toFixed(2),
      'one sort of all scores, s': sortSeconds.toFixed(2),
      'metrics / sort': (seconds / sortSeconds).toFixed(1),
      'time growth vs previous size': previous
        ? `${(seconds / previous.seconds).toFixed(1)}x for ${n / previous.n}x the scores`
        : '',
      'goal < 2 s at 1M + 1M': n === 1_000_000 ? (seconds < 2 ? 'met' : 'not met') : '',
      AUROC: m.auroc.toFixed(4),
    });
    previous = { n, seconds };
  }
  return rows;
}
