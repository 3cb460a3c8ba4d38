/**
 * The scoring record as every layer sees it: what the scoring service writes, what the history
 * returns and filters on. Types only; the repository stores them, services and resolvers use them.
 */

/** Which number a threshold applies to: the static score, the logit score or the adaptive score. */
export type ThresholdSpace = 'SCORE' | 'LOGIT_SCORE' | 'ADAPTIVE_SCORE';

export interface NewScoringRecord {
  caller: string;
  taxonomyId: string;
  taxonomyVersionId: string;
  negativeSetId: string;
  modelId: string;
  threshold: number;
  /** which number the threshold was compared with */
  thresholdSpace: ThresholdSpace;
  /** the caller's own threshold and decision, when it gave one; threshold and isOod are the taxonomy's */
  requested: { threshold: number; thresholdSpace: ThresholdSpace; isOod: boolean } | null;
  imageHash: string;
  filename: string | null;
  /** the URL the image was fetched from, or null */
  sourceUrl: string | null;
  imageEmbedding: Float32Array;
  /** a small WebP of the image (taxonomies with storeThumbnails), or null */
  thumbnail: Uint8Array | null;
  score: number;
  logitScore: number;
  isOod: boolean;
  predictedLabel: string;
  topLabels: Array<{ label: string; similarity: number }>;
  /** `prompt` is absent in records written before the words and prompts were told apart */
  topNegatives: Array<{ label: string; prompt?: string; similarity: number }>;
  latencyMs: number;
  /** adaptive mode: the adaptive score and the memory it met (snapshot id and size); null otherwise */
  adaptive: { adaptiveScore: number; memorySnapshotId: string; memorySize: number } | null;
}

export interface ScoringRecordRow extends Omit<NewScoringRecord, 'imageEmbedding' | 'thumbnail'> {
  /** the thumbnail as a data: URL, while within its taxonomy's retention; else null */
  thumbnail: string | null;
  id: string;
  /** the record's place in the history's order, `writerXid:id` */
  position: string;
  createdAt: Date;
  taxonomyVersion: number;
}

export interface ScoringFilter {
  taxonomyId?: string | null;
  version?: number | null;
  decision?: 'ID' | 'OOD' | null;
  minScore?: number | null;
  maxScore?: number | null;
  from?: Date | null;
  to?: Date | null;
  caller?: string | null;
  model?: string | null;
}

/**
 * An image of a batch scored image by image (scoreImageBatch) that could not be scored: its own
 * coded error (bad bytes, a failed upload or URL). Nothing is recorded for it; an idempotent
 * retry answers it again.
 */
export interface ImageFailure {
  /** its position in the request's images */
  index: number;
  filename: string | null;
  /** a stable code, one of IMAGE_FAULT_CODES (src/services/images.ts) */
  code: string;
  message: string;
}
