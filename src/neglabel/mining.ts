/**
 * NegMining (the method page): each candidate is ranked by the `percentile` quantile of its cosine
 * similarities to all K ID labels (linear interpolation, as numpy/torch `quantile`); nouns and
 * adjectives are ranked separately, ascending, and the lowest fraction (or an absolute count)
 * of each is kept. Unlike the reference, candidates equal to an ID label or with max cosine above
 * a threshold are excluded by default.
 */
import type { CorpusWord, PartOfSpeech } from './corpus.ts';
import { assignGroups } from './grouping.ts';

type Values = Float64Array | Float32Array;

/** k-th smallest (0-based) of values[0..n), partially reordering `values` (Hoare quickselect). */
function selectInPlace(values: Values, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

/** numpy's default ('linear') quantile of values[0..n); reorders `values`. */
export function quantileInPlace(values: Values, n: number, q: number): number {
  const position = q * (n - 1);
  const lower = Math.floor(position);
  const low = selectInPlace(values, n, lower);
  if (position === lower) return low;
  // After selection everything above index `lower` is ≥ low; the next order statistic is their minimum.
  let next = Infinity;
  for (let i = lower + 1; i < n; i++) if (values[i] < next) next = values[i];
  return low + (next - low) * (position - lower);
}

export interface CandidateStatistics {
  /** per candidate: the percentile-quantile of cosine similarity to the ID labels */
  quantile: Float64Array;
  /** per candidate: the largest cosine similarity to any ID label */
  max: Float64Array;
}

/**
 * Cosine statistics of N candidates against K ID labels, both row-major and L2-normalized
 * ([N, dim] and [K, dim]). `onProgress` is called with the candidates done so far.
 */
export function candidateStatistics(
  candidates: Float32Array,
  ids: Float32Array,
  dim: number,
  percentile: number,
): CandidateStatistics {
  const n = candidates.length / dim;
  const k = ids.length / dim;
  const stats: CandidateStatistics = { quantile: new Float64Array(n), max: new Float64Array(n) };
  const sims = new Float64Array(k);
  for (let c = 0; c < n; c++) {
    const offset = c * dim;
    for (let j = 0; j < k; j++) {
      const idOffset = j * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += candidates[offset + d] * ids[idOffset + d];
      sims[j] = dot;
    }
    statisticsOfRows(sims, 1, k, percentile, stats, c);
  }
  return stats;
}

/**
 * Fills `stats` rows [offset, offset + rows) from a precomputed row-major [rows, k] similarity
 * matrix (for example from a matrix-product kernel). Reorders `sims`.
 */
export function statisticsOfRows(
  sims: Values,
  rows: number,
  k: number,
  percentile: number,
  stats: CandidateStatistics,
  offset: number,
): void {
  for (let r = 0; r < rows; r++) {
    const row = sims.subarray(r * k, (r + 1) * k);
    let best = -Infinity;
    for (let j = 0; j < k; j++) if (row[j] > best) best = row[j];
    stats.max[offset + r] = best;
    stats.quantile[offset + r] = quantileInPlace(row, k, percentile);
  }
}

export interface SelectionOptions {
  /** fraction of each part of speech kept (default 0.15); ignored when `count` is set */
  selectionRatio: number;
  /** absolute number of negatives, split between parts of speech in proportion to their pools */
  count?: number | null;
  excludeNearDuplicates: boolean;
  /** exclude candidates whose max cosine to an ID label exceeds this (default 0.95) */
  nearDuplicateThreshold: number;
}

export interface Selection {
  /** candidate indices in set order: selected nouns ascending by quantile, then adjectives */
  indices: number[];
  /** candidates removed as exact or near duplicates of ID labels */
  excluded: number;
}

function normalizedLabel(text: string): string {
  return text.trim().toLowerCase().replace(/_/g, ' ').replace(/\s+/g, ' ');
}

export function selectNegatives(
  corpus: readonly CorpusWord[],
  stats: CandidateStatistics,
  idLabels: readonly string[],
  options: SelectionOptions,
): Selection {
  const idNames = new Set(idLabels.map(normalizedLabel));
  const pools: Record<PartOfSpeech, number[]> = { noun: [], adjective: [] };
  let excluded = 0;
  corpus.forEach((word, index) => {
    if (
      options.excludeNearDuplicates &&
      (idNames.has(normalizedLabel(word.text)) || stats.max[index] > options.nearDuplicateThreshold)
    ) {
      excluded++;
      return;
    }
    pools[word.pos].push(index);
  });
  const total = pools.noun.length + pools.adjective.length;
  const keep: Record<PartOfSpeech, number> = { noun: 0, adjective: 0 };
  if (options.count != null) {
    const count = Math.min(options.count, total);
    keep.noun = total === 0 ? 0 : Math.round((count * pools.noun.length) / total);
    keep.adjective = count - keep.noun;
  } else {
    keep.noun = Math.floor(pools.noun.length * options.selectionRatio);
    keep.adjective = Math.floor(pools.adjective.length * options.selectionRatio);
  }
  const indices: number[] = [];
  for (const pos of ['noun', 'adjective'] as const) {
    // ascending by quantile; ties keep corpus order (a stable sort)
    const ranked = pools[pos].sort((a, b) => stats.quantile[a] - stats.quantile[b] || a - b);
    indices.push(...ranked.slice(0, keep[pos]));
  }
  return { indices, excluded };
}

export interface NegativeSetOptions extends SelectionOptions {
  /** number of groups n_g (1 = ungrouped) */
  groups: number;
  /** seed of the grouping permutation */
  seed: number;
}

export interface MinedNegativeSet {
  /** candidate indices of the kept negatives, in set order */
  indices: number[];
  /** the group of each kept negative */
  group: Int32Array;
  /** candidates removed as exact or near duplicates of ID labels */
  excluded: number;
}

/**
 * A negative set from candidate statistics, as NegLabel mines it: select per part of speech, then
 * split into equal groups (the last M mod n_g selected are dropped). The one pipeline the mining
 * runner and the evaluation both run. Throws when fewer negatives than groups were selected.
 */
export function mineNegativeSet(
  corpus: readonly CorpusWord[],
  stats: CandidateStatistics,
  idLabels: readonly string[],
  options: NegativeSetOptions,
): MinedNegativeSet {
  const selection = selectNegatives(corpus, stats, idLabels, options);
  if (selection.indices.length < options.groups) {
    throw new RangeError(
      `only ${selection.indices.length} negatives were selected, fewer than groups (${options.groups}): lower ` +
        `groups, raise selectionRatio or count, or use a larger corpus`,
    );
  }
  const { kept, group } = assignGroups(selection.indices.length, options.groups, options.seed);
  return { indices: selection.indices.slice(0, kept), group, excluded: selection.excluded };
}
