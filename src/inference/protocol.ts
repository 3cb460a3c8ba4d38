/** Messages between the encoder pool (main thread) and an encoder worker. */

export interface LoadedModelInfo {
  embeddingDim: number;
  imageSize: number;
  contextLength: number;
}

export interface ItemError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type WorkerRequest =
  | { id: number; kind: 'load'; modelId: string; dir: string }
  | { id: number; kind: 'texts'; modelId: string; texts: string[] }
  | { id: number; kind: 'tokenize'; modelId: string; texts: string[] }
  | { id: number; kind: 'images'; modelId: string; images: Uint8Array[]; maxPixels: number };

export type WorkerResult =
  | { kind: 'load'; info: LoadedModelInfo }
  /** row-major [n, dim], L2-normalized; `runs` = ONNX session runs, `batchSizes` their sizes */
  | { kind: 'texts'; embeddings: Float32Array; dim: number; runs: number; batchSizes: number[] }
  | { kind: 'tokenize'; ids: number[][] }
  /** rows of failed images are zeros and have an entry in `errors` */
  | { kind: 'images'; embeddings: Float32Array; dim: number; errors: (ItemError | null)[]; runs: number; batchSizes: number[] };

export type WorkerResponse =
  | { id: number; ok: true; result: WorkerResult }
  | { id: number; ok: false; error: ItemError };
