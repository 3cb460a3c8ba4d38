/**
 * Percentile bootstrap intervals for OOD metrics: ID and OOD scores are resampled with replacement
 * separately (the two sets are sampled independently in an OOD benchmark), `resamples` times from
 * a seeded mulberry32 stream, and the metric's 2.5th and 97.5th percentiles form the 95 % interval.
 */
import { mulberry32 } from './random.ts';
import { oodMetrics, type OodMetrics } from './metrics.ts';

export interface Interval {
  low: number;
  high: number;
}

export type MetricIntervals = Record<'auroc' | 'fpr95', Interval>;

function resample(scores: readonly number[], random: () => number): number[] {
  const out = new Array<number>(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[Math.floor(random() * scores.length)];
  return out;
}

/** The value below which `q` of the sorted values lie (linear interpolation, as numpy's percentile). */
function quantileOfSorted(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

export function bootstrapIntervals(
  idScores: readonly number[],
  oodScores: readonly number[],
  options: { resamples?: number; seed?: number; level?: number } = {},
): MetricIntervals {
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const random = mulberry32(options.seed ?? 0);
  const values: Record<keyof MetricIntervals, Float64Array> = {
    auroc: new Float64Array(resamples),
    fpr95: new Float64Array(resamples),
  };
  for (let r = 0; r < resamples; r++) {
    const m: OodMetrics = oodMetrics(resample(idScores, random), resample(oodScores, random));
    values.auroc[r] = m.auroc;
    values.fpr95[r] = m.fpr95;
  }
  const interval = (v: Float64Array): Interval => {
    v.sort();
    return { low: quantileOfSorted(v, (1 - level) / 2), high: quantileOfSorted(v, 1 - (1 - level) / 2) };
  };
  return { auroc: interval(values.auroc), fpr95: interval(values.fpr95) };
}
