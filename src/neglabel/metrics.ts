/**
 * OOD metrics, in the convention of the OOD literature and the NegLabel paper: ID is the
 * positive class and higher scores mean more ID.
 *
 * Everything is computed from one pass over the distinct score values (O(n log n) for the sort),
 * so that a million ID and a million OOD scores take well under two seconds (`npm run bench`).
 * Two FPR conventions are reported, because both are needed:
 * - `fpr95` is the papers' number, computed exactly as the evaluator behind the MOS, MCM and
 *   NegLabel papers does (`fpr_and_fdr_at_recall`, ID positive, recall level 0.95);
 * - `fpr95AtThreshold` is what a deployment calibrated to keep 95 % of the ID images sees: the
 *   share of OOD images scoring at or above `threshold95` (the same threshold that
 *   `calibrateThreshold` returns for those ID images).
 */

/** The distinct score values in descending order, with how many ID and OOD scores are ≥ each. */
interface ThresholdCurve {
  values: Float64Array;
  /** ID scores ≥ values[k] (true positives when accepting score ≥ values[k] as ID) */
  idAtOrAbove: Float64Array;
  /** OOD scores ≥ values[k] (false positives) */
  oodAtOrAbove: Float64Array;
  idCount: number;
  oodCount: number;
}

function sortedAscending(scores: readonly number[], what: string): Float64Array {
  if (scores.length === 0) throw new RangeError(`metrics need at least one ${what} score`);
  const sorted = Float64Array.from(scores);
  for (const s of sorted) if (Number.isNaN(s)) throw new RangeError(`a ${what} score is NaN`);
  return sorted.sort();
}

function thresholdCurve(idScores: readonly number[], oodScores: readonly number[]): ThresholdCurve {
  const id = sortedAscending(idScores, 'ID');
  const ood = sortedAscending(oodScores, 'OOD');
  const capacity = id.length + ood.length;
  const values = new Float64Array(capacity);
  const idAtOrAbove = new Float64Array(capacity);
  const oodAtOrAbove = new Float64Array(capacity);
  let i = id.length - 1;
  let j = ood.length - 1;
  let tp = 0;
  let fp = 0;
  let k = 0;
  while (i >= 0 || j >= 0) {
    const v = Math.max(i >= 0 ? id[i] : -Infinity, j >= 0 ? ood[j] : -Infinity);
    for (; i >= 0 && id[i] === v; i--) tp++;
    for (; j >= 0 && ood[j] === v; j--) fp++;
    values[k] = v;
    idAtOrAbove[k] = tp;
    oodAtOrAbove[k] = fp;
    k++;
  }
  return {
    values: values.subarray(0, k),
    idAtOrAbove: idAtOrAbove.subarray(0, k),
    oodAtOrAbove: oodAtOrAbove.subarray(0, k),
    idCount: id.length,
    oodCount: ood.length,
  };
}

/** P(random ID score > random OOD score), ties counted ½ (sklearn's roc_auc_score). */
function aurocOf(c: ThresholdCurve): number {
  let pairs = 0;
  let previousTp = 0;
  let previousFp = 0;
  for (let k = 0; k < c.values.length; k++) {
    const idHere = c.idAtOrAbove[k] - previousTp;
    const oodHere = c.oodAtOrAbove[k] - previousFp;
    // ID scores at this value beat every OOD score below it and tie with the OOD scores here
    pairs += idHere * (c.oodCount - c.oodAtOrAbove[k] + oodHere / 2);
    previousTp = c.idAtOrAbove[k];
    previousFp = c.oodAtOrAbove[k];
  }
  return pairs / (c.idCount * c.oodCount);
}

/** Average precision with ID positive (sklearn's average_precision_score): Σ (R_k − R_{k−1}) P_k. */
function auprInOf(c: ThresholdCurve): number {
  let ap = 0;
  let previousRecall = 0;
  for (let k = 0; k < c.values.length; k++) {
    const recall = c.idAtOrAbove[k] / c.idCount;
    ap += (recall - previousRecall) * (c.idAtOrAbove[k] / (c.idAtOrAbove[k] + c.oodAtOrAbove[k]));
    previousRecall = recall;
  }
  return ap;
}

/** Average precision with OOD positive on the negated score: the same curve walked upwards. */
function auprOutOf(c: ThresholdCurve): number {
  let ap = 0;
  let previousRecall = 0;
  for (let k = c.values.length - 1; k >= 0; k--) {
    // OOD and ID scores ≤ values[k]: everything not strictly above it
    const oodAtOrBelow = c.oodCount - (k > 0 ? c.oodAtOrAbove[k - 1] : 0);
    const idAtOrBelow = c.idCount - (k > 0 ? c.idAtOrAbove[k - 1] : 0);
    const recall = oodAtOrBelow / c.oodCount;
    ap += (recall - previousRecall) * (oodAtOrBelow / (oodAtOrBelow + idAtOrBelow));
    previousRecall = recall;
  }
  return ap;
}

/**
 * FPR at `recallLevel` ID recall exactly as `fpr_and_fdr_at_recall` (MOS/MCM/NegLabel evaluation
 * code) computes it: candidate thresholds are the distinct scores, from the highest down to the
 * first one at which every ID score is accepted; walking them from the lowest up, the first whose
 * recall is closest to `recallLevel` wins. So an OOD score between the 95 % ID score and the next
 * lower ID score counts as a false positive: slightly pessimistic, and the papers' number.
 */
function papersFprOf(c: ThresholdCurve, recallLevel: number): number {
  let last = 0;
  while (c.idAtOrAbove[last] < c.idCount) last++;
  let best = last;
  let bestGap = Infinity;
  for (let k = last; k >= 0; k--) {
    const gap = Math.abs(c.idAtOrAbove[k] / c.idCount - recallLevel);
    if (gap < bestGap) {
      bestGap = gap;
      best = k;
    }
  }
  return c.oodAtOrAbove[best] / c.oodCount;
}

/**
 * The largest threshold t with (#ID scores ≥ t) / #ID ≥ `targetTpr`: accepting an image as ID when
 * score ≥ t keeps at least that share of these ID images.
 */
export function calibrateThreshold(
  idScores: readonly number[],
  targetTpr: number,
): { threshold: number; achievedTpr: number } {
  if (!(targetTpr > 0 && targetTpr <= 1)) throw new RangeError('targetTpr must be in (0, 1]');
  const sorted = sortedAscending(idScores, 'ID').reverse();
  const n = sorted.length;
  // the smallest count k with k / n ≥ targetTpr, by the same floating-point comparison as the definition
  let k = Math.max(1, Math.floor(targetTpr * n) - 1);
  while (k / n < targetTpr) k++;
  const threshold = sorted[k - 1];
  let accepted = k;
  while (accepted < n && sorted[accepted] >= threshold) accepted++;
  return { threshold, achievedTpr: accepted / n };
}

export interface OodMetrics {
  /** area under the ROC curve, ID positive, ties ½ */
  auroc: number;
  /** FPR at 95 % ID recall as the papers' evaluator computes it */
  fpr95: number;
  /** average precision, ID positive */
  auprIn: number;
  /** average precision, OOD positive on the negated score */
  auprOut: number;
  /** the largest score keeping at least 95 % of the ID images (accept as ID when score ≥ it) */
  threshold95: number;
  /** share of OOD images scoring ≥ threshold95: what a deployment calibrated at 95 % TPR sees */
  fpr95AtThreshold: number;
}

/**
 * The calibrated point on the curve: the first (highest) value at which at least `tpr` of the ID
 * scores are accepted. Recall only rises at values holding ID scores, so it is an ID score: the
 * threshold `calibrateThreshold` returns, read off the same sorted pass.
 */
function calibratedIndexOf(c: ThresholdCurve, tpr: number): number {
  let k = 0;
  while (c.idAtOrAbove[k] / c.idCount < tpr) k++;
  return k;
}

export function oodMetrics(idScores: readonly number[], oodScores: readonly number[]): OodMetrics {
  const curve = thresholdCurve(idScores, oodScores);
  const calibrated = calibratedIndexOf(curve, 0.95);
  return {
    auroc: aurocOf(curve),
    fpr95: papersFprOf(curve, 0.95),
    auprIn: auprInOf(curve),
    auprOut: auprOutOf(curve),
    threshold95: curve.values[calibrated],
    fpr95AtThreshold: curve.oodAtOrAbove[calibrated] / curve.oodCount,
  };
}
