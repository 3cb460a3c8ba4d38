/**
 * The one interface the rest of the service encodes and scores through. The local implementation
 * runs ONNX sessions in worker threads (onnx-encoder.ts); a GPU node or a remote inference server
 * could implement the same interface. A taxonomy's label bank is a *head* of its image model:
 * loaded once, then images are embedded and scored against it in one pass, where the embeddings
 * are computed.
 */
import type { DomainError } from '../errors.ts';
import type { ImageScoreResult, LabelBank } from '../neglabel/scoring.ts';
import type { AlphaHandling } from './image-preprocessing.ts';

/** An image to embed: its bytes, their SHA-256 (hex) when the caller has it, how to treat transparency. */
export interface ImageToEncode {
  bytes: Uint8Array;
  sha256?: string;
  /** null or absent: the model's default (composite over white unless its folder says otherwise) */
  alpha?: AlphaHandling | null;
  /**
   * whose cache entries these are: an image is served from the cache only to the scope that sent
   * it before. One cache for everyone would tell a tenant, by the speed of its answer, that another
   * tenant sent the same picture. Absent: the shared scope of internal passes (evaluation tools).
   */
  cacheScope?: string;
}

/**
 * An adaptive memory as the scoring heads read it: rows of a row-major [capacity, dim] arena in
 * shared memory (written by the request thread, never rewritten while a snapshot lists them).
 */
export interface MemoryRows {
  arena: SharedArrayBuffer;
  rows: Int32Array;
}

/** Which loaded head to score against, how many top labels to report, and the memory to meet (adaptive mode). */
export interface ScoringHead {
  key: string;
  topK: number;
  memory?: MemoryRows;
}

/** An image's embedding, its NegLabel result, and its adaptive penalty c5 when a memory was given (else null). */
export interface ScoredImage {
  embedding: Float32Array;
  result: ImageScoreResult;
  penalty: number | null;
}

export interface ModelStatus {
  id: string;
  name: string;
  dir: string;
  isDefault: boolean;
  loaded: boolean;
  /** why the model is not loaded (missing files, load failure), or null */
  error: string | null;
  embeddingDim: number | null;
  imageSize: number | null;
  contextLength: number | null;
  /** the trained logit scale the folder states (config.json `logit_scale`), or null */
  logitScale: number | null;
  /** the onnxruntime execution provider the model runs on, once loaded */
  executionProvider: string | null;
  /** why the preferred providers before it did not load (the model runs, but not where asked) */
  providerFallback: string | null;
}

export interface EncoderStats {
  /** ONNX session runs and the items they encoded, per modality */
  textRuns: number;
  textItems: number;
  imageRuns: number;
  imageItems: number;
  /** encoded by a run, keyed by batch size */
  imageBatchSizes: Map<number, number>;
  textBatchSizes: Map<number, number>;
  textCacheHits: number;
  imageCacheHits: number;
  /** worker-pool requests: count, total seconds from send to answer (queue wait included), in flight now */
  workerRequests: number;
  workerSeconds: number;
  workerInFlight: number;
}

/** Counters of an encoder that has encoded nothing yet. */
export function noEncoderStats(): EncoderStats {
  return {
    textRuns: 0,
    textItems: 0,
    imageRuns: 0,
    imageItems: 0,
    imageBatchSizes: new Map(),
    textBatchSizes: new Map(),
    textCacheHits: 0,
    imageCacheHits: 0,
    workerRequests: 0,
    workerSeconds: 0,
    workerInFlight: 0,
  };
}

/** Unit text embeddings, with each one's norm before normalization (its raw embedding is vector × norm). */
export interface TextEmbeddings {
  vectors: Float32Array[];
  norms: Float32Array;
}

/** Unit text embeddings, with each text's length in tokens as the model read it (start and end included). */
export interface EncodedTexts {
  vectors: Float32Array[];
  tokenCounts: number[];
}

/**
 * What the encoder tells its subscribers (metrics): each session run, with how long each of its
 * items waited from the request to the run; and items dropped because their deadline passed.
 */
export type EncoderEvent =
  | {
      type: 'batch';
      model: string;
      kind: 'text' | 'image';
      size: number;
      computeSeconds: number;
      queueSeconds: number[];
    }
  | { type: 'shed'; model: string; kind: 'text' | 'image'; count: number };

export interface Encoder {
  models(): ModelStatus[];
  /** The model a request means: `id`, or the default; throws a ModelUnavailableError otherwise. */
  resolveModel(id?: string | null): ModelStatus;
  /**
   * L2-normalized text embeddings, batched across concurrent callers and cached by (model, text),
   * with the token counts the tokenizer in the worker found (usage figures cost no second pass).
   */
  embedTexts(modelId: string, texts: string[]): Promise<EncodedTexts>;
  /**
   * Like embedTexts without the in-memory cache, for bulk passes (corpus encoding); the raw norms
   * let a caller average raw embeddings (CSP's ensembles).
   */
  embedTextsBulk(modelId: string, texts: string[]): Promise<TextEmbeddings>;
  /**
   * L2-normalized image embeddings, one result or error per image, cached by cache scope, content
   * hash and transparency handling.
   */
  embedImages(modelId: string, images: ImageToEncode[]): Promise<Array<Float32Array | DomainError>>;
  /** Keeps a label bank as a scoring head under `key` until dropHead. */
  loadHead(key: string, bank: LabelBank): Promise<void>;
  dropHead(key: string): void;
  /** How many heads each worker (or replica) holds: what bounds their memory, shown in /metrics. */
  headsPerWorker(): Promise<number[]>;
  /**
   * Embeds images (as embedImages does, cache included) and scores each against a loaded head in
   * the same pass: one result or error per image.
   */
  embedAndScore(modelId: string, images: ImageToEncode[], head: ScoringHead): Promise<Array<ScoredImage | DomainError>>;
  /** Scores embeddings already at hand (a cached or stored image, a text) against a loaded head. */
  scoreEmbeddings(
    embeddings: Float32Array[],
    head: ScoringHead,
  ): Promise<{ results: ImageScoreResult[]; penalties: number[] | null }>;
  stats(): EncoderStats;
  subscribe(listener: (event: EncoderEvent) => void): void;
  close(): Promise<void>;
}
