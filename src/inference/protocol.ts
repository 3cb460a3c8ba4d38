/** Messages between the encoder pool (main thread) and an encoder worker. */
import type { ImageScoreResult, LabelBank } from '../neglabel/scoring.ts';
import type { MemoryRows, ScoringHead } from './encoder.ts';
import type { AlphaHandling } from './image-preprocessing.ts';

/** onnxruntime-node execution providers this service can ask for (NEGLABEL_EXECUTION_PROVIDERS). */
export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

/** Image preprocessing: Pillow-exact resampling (reference parity) or libvips' own (faster). */
export type PreprocessingMode = 'exact' | 'fast';

/** How the workers of a process load and run every model. */
export interface EncoderSettings {
  /** in order of preference; cpu in the list allows running on the CPU */
  executionProviders: ExecutionProvider[];
  preprocessing: PreprocessingMode;
  /** the encoder threads' nice value (NEGLABEL_ENCODER_NICE; 0 = the process's priority) */
  threadNice: number;
}

export interface LoadedModelInfo {
  embeddingDim: number;
  imageSize: number;
  contextLength: number;
  /** the provider the sessions run on: the first of the preferred list that loaded */
  executionProvider: ExecutionProvider;
  /** why the providers preferred before it did not load, or null */
  providerFallback: string | null;
}

/**
 * The session runs behind an encoding result: when each started (epoch ms, the clock every thread
 * shares) and took, and which run each item went in (-1: none, it failed or was dropped).
 */
export interface RunTimings {
  startedAt: number[];
  seconds: number[];
  itemRun: Int32Array;
}

export interface ItemError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** An item dropped unencoded because its request's deadline passed, in the batcher or a worker. */
export const DEADLINE_EXCEEDED: ItemError = {
  code: 'DEADLINE_EXCEEDED',
  message:
    "The request's deadline passed while it waited for the encoder: retry with a longer x-request-timeout-ms, " +
    'or when the service is less busy.',
};

export type WorkerRequest =
  | { id: number; kind: 'load'; modelId: string; dir: string; settings: EncoderSettings }
  /** `deadlines[i]`: epoch ms after which item i is dropped unencoded (DEADLINE_EXCEEDED), or null */
  | { id: number; kind: 'texts'; modelId: string; texts: string[]; deadlines?: (number | null)[] }
  /**
   * `alpha[i]` null: the model's own handling of transparent images; `itemHeads[i]`: the index in
   * `heads` of the head item i is scored against after embedding (-1: embedded only)
   */
  | {
      id: number;
      kind: 'images';
      modelId: string;
      images: Uint8Array[];
      alpha: (AlphaHandling | null)[];
      maxPixels: number;
      deadlines?: (number | null)[];
      heads?: ScoringHead[];
      itemHeads?: Int32Array;
    }
  /** keeps a label bank in the worker under `key` as a scoring head */
  | { id: number; kind: 'bank'; key: string; bank: LabelBank }
  /** forgets a label bank */
  | { id: number; kind: 'drop-bank'; key: string }
  /** how many label banks the worker holds (memory is bounded by it) */
  | { id: number; kind: 'head-count' }
  /**
   * NegLabel scores of row-major [n, dim] image embeddings against a loaded head; with `memory`,
   * also each image's adaptive penalty c5 against those rows of the shared arena
   */
  | { id: number; kind: 'score'; key: string; images: Float32Array; topK: number; memory?: MemoryRows };

export type WorkerResult =
  | { kind: 'load'; info: LoadedModelInfo }
  /**
   * row-major [n, dim], L2-normalized, with each row's norm before normalization and its length
   * in tokens (start and end included, as the model read it); `runs` = ONNX session runs,
   * `batchSizes` their sizes
   */
  | {
      kind: 'texts';
      embeddings: Float32Array;
      norms: Float32Array;
      tokenCounts: Int32Array;
      dim: number;
      errors: (ItemError | null)[];
      runs: number;
      batchSizes: number[];
      timings: RunTimings;
    }
  | { kind: 'bank' }
  | { kind: 'drop-bank' }
  | { kind: 'head-count'; count: number }
  | { kind: 'score'; results: ImageScoreResult[]; penalties: number[] | null }
  /**
   * rows of failed images are zeros and have an entry in `errors`; `scores[i]`: item i's result
   * against its head (null: no head asked, the image failed, or its head could not score here)
   */
  | {
      kind: 'images';
      embeddings: Float32Array;
      dim: number;
      errors: (ItemError | null)[];
      scores: Array<{ result: ImageScoreResult; penalty: number | null } | null>;
      runs: number;
      batchSizes: number[];
      timings: RunTimings;
    };

export type WorkerResponse =
  | { id: number; ok: true; result: WorkerResult }
  | { id: number; ok: false; error: ItemError };
