/**
 * OOD metrics, in the convention of the OOD literature and the NegLabel paper: ID is the
 * positive class and higher scores mean more ID.
 */

/** P(random ID score > random OOD score), ties counted ½ (Mann–Whitney U over average ranks). */
export function auroc(idScores: readonly number[], oodScores: readonly number[]): number {
  const all = [...idScores.map((s) => ({ s, id: true })), ...oodScores.map((s) => ({ s, id: false }))].sort((a, b) => a.s - b.s);
  let rankSumId = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].s === all[i].s) j++;
    const averageRank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++) if (all[t].id) rankSumId += averageRank;
    i = j;
  }
  const n = idScores.length;
  const m = oodScores.length;
  return (rankSumId - (n * (n + 1)) / 2) / (n * m);
}

/**
 * FPR at 95 % TPR (ID positive): among thresholds at the observed scores, the one whose ID recall
 * (fraction of ID scores ≥ threshold) is closest to `tpr` (the higher threshold on a tie); returns
 * the fraction of OOD scores ≥ it.
 */
export function fprAtTpr(idScores: readonly number[], oodScores: readonly number[], tpr = 0.95): number {
  const thresholds = [...new Set([...idScores, ...oodScores])].sort((a, b) => b - a);
  let best = thresholds[0];
  let bestGap = Infinity;
  for (const t of thresholds) {
    const recall = idScores.filter((s) => s >= t).length / idScores.length;
    const gap = Math.abs(recall - tpr);
    if (gap < bestGap - 1e-12) {
      bestGap = gap;
      best = t;
    }
  }
  return oodScores.filter((s) => s >= best).length / oodScores.length;
}

/** Average precision of `positives` against `negatives` (sklearn's average_precision_score). */
export function averagePrecision(positives: readonly number[], negatives: readonly number[]): number {
  const all = [...positives.map((s) => ({ s, p: 1 })), ...negatives.map((s) => ({ s, p: 0 }))].sort((a, b) => b.s - a.s);
  let tp = 0;
  let fp = 0;
  let previousRecall = 0;
  let ap = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].s === all[i].s) {
      tp += all[j].p;
      fp += 1 - all[j].p;
      j++;
    }
    const recall = tp / positives.length;
    ap += (recall - previousRecall) * (tp / (tp + fp));
    previousRecall = recall;
    i = j;
  }
  return ap;
}

export interface OodMetrics {
  auroc: number;
  fpr95: number;
  auprIn: number;
  auprOut: number;
}

export function oodMetrics(idScores: readonly number[], oodScores: readonly number[]): OodMetrics {
  return {
    auroc: auroc(idScores, oodScores),
    fpr95: fprAtTpr(idScores, oodScores, 0.95),
    auprIn: averagePrecision(idScores, oodScores),
    auprOut: averagePrecision(oodScores.map((s) => -s), idScores.map((s) => -s)),
  };
}

/** The highest threshold at which at least `targetTpr` of the ID scores are ≥ it. */
export function calibrateThreshold(idScores: readonly number[], targetTpr: number): { threshold: number; achievedTpr: number } {
  const sorted = [...idScores].sort((a, b) => b - a);
  const needed = Math.max(1, Math.ceil(targetTpr * sorted.length - 1e-9));
  const threshold = sorted[needed - 1];
  return { threshold, achievedTpr: sorted.filter((s) => s >= threshold).length / sorted.length };
}
