/**
 * NegLabel scoring of one image embedding against a label bank.
 *
 * Logits are s·cos with s the model's logit scale: NegLabel's τ = 0.01 is CLIP's learned scale
 * of 100, and a model trained with another scale (the bank says which) is scored at its own, else
 * its scores saturate (ID at 0.99999999998) and cannot be thresholded. The grouped score is
 * S = mean_g σ(LSE(z_ID) − LSE(z_neg ∈ G_g)), the log-space form of
 * Σe^z_ID / (Σe^z_ID + Σ_{G_g} e^z_neg), which overflows when computed naively. With one group it
 * is the ungrouped S. `logitScore` = LSE(z_ID) − LSE(all z_neg) ranks images without saturating.
 */

/** The NegLabel reference's logit scale (temperature 0.01): OpenAI CLIP's learned value. */
export const REFERENCE_LOGIT_SCALE = 100;

export interface LabelBank {
  dim: number;
  /** [K, dim] row-major, L2-normalized */
  idEmbeddings: Float32Array;
  /** [M, dim] row-major, L2-normalized */
  negativeEmbeddings: Float32Array;
  /** group index of each negative, 0..groupCount-1 */
  negativeGroups: Int32Array;
  groupCount: number;
  /** logits = logitScale · cos */
  logitScale: number;
}

export interface Match {
  index: number;
  similarity: number;
}

export interface ImageScoreResult {
  score: number;
  logitScore: number;
  predictedIndex: number;
  topLabels: Match[];
  topNegatives: Match[];
}

/** Cosine similarity of `vector` to every row of `matrix`. */
export function similarities(matrix: Float32Array, vector: Float32Array, dim: number): Float64Array {
  const rows = matrix.length / dim;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    const offset = r * dim;
    for (let d = 0; d < dim; d++) dot += matrix[offset + d] * vector[d];
    out[r] = dot;
  }
  return out;
}

/** log Σ exp(scale·x), stable (shifted by the maximum). */
function logSumExp(values: ArrayLike<number>, scale: number): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] * scale > max) max = values[i] * scale;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] * scale - max);
  return max + Math.log(sum);
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** The k largest values, by a bounded insertion pass (k ≪ n): O(n·k) instead of a full sort. */
function topK(values: ArrayLike<number>, k: number): Match[] {
  const top: Match[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (top.length === k && v <= top[k - 1].similarity) continue;
    let at = top.length;
    while (at > 0 && top[at - 1].similarity < v) at--;
    top.splice(at, 0, { index: i, similarity: v });
    if (top.length > k) top.pop();
  }
  return top;
}

export function scoreImage(bank: LabelBank, image: Float32Array, k = 5): ImageScoreResult {
  return scoreFromSimilarities(
    bank,
    similarities(bank.idEmbeddings, image, bank.dim),
    similarities(bank.negativeEmbeddings, image, bank.dim),
    k,
  );
}

/** The score from an image's precomputed cosine similarities to the ID labels and the negatives. */
export function scoreFromSimilarities(
  bank: Pick<LabelBank, 'negativeGroups' | 'groupCount' | 'logitScale'>,
  idSims: ArrayLike<number>,
  negSims: ArrayLike<number>,
  k = 5,
): ImageScoreResult {
  const scale = bank.logitScale;
  const lseId = logSumExp(idSims, scale);

  // Per-group log-sum-exp, with each group's own maximum for stability.
  const groupMax = new Float64Array(bank.groupCount).fill(-Infinity);
  for (let j = 0; j < negSims.length; j++) {
    const g = bank.negativeGroups[j];
    if (negSims[j] * scale > groupMax[g]) groupMax[g] = negSims[j] * scale;
  }
  const groupSum = new Float64Array(bank.groupCount);
  for (let j = 0; j < negSims.length; j++) {
    const g = bank.negativeGroups[j];
    groupSum[g] += Math.exp(negSims[j] * scale - groupMax[g]);
  }
  let score = 0;
  let allMax = -Infinity;
  for (let g = 0; g < bank.groupCount; g++) {
    score += sigmoid(lseId - (groupMax[g] + Math.log(groupSum[g])));
    if (groupMax[g] > allMax) allMax = groupMax[g];
  }
  score /= bank.groupCount;
  // LSE over all negatives from the group sums: no second pass of exponentials
  let allSum = 0;
  for (let g = 0; g < bank.groupCount; g++) allSum += groupSum[g] * Math.exp(groupMax[g] - allMax);

  const top = topK(idSims, Math.max(1, k));
  return {
    score,
    logitScore: lseId - (allMax + Math.log(allSum)),
    predictedIndex: top[0].index,
    topLabels: top.slice(0, k),
    topNegatives: topK(negSims, k),
  };
}
