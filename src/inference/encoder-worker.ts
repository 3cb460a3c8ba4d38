/**
 * Encoder worker: owns ONNX sessions and does all CPU-heavy encoding off the main thread,
 * because onnxruntime-node's run() blocks the event loop for the whole inference.
 * Tokenization and image decoding run here too, for the same reason, and so does scoring: the
 * label banks are heads of the image model (scoring-heads.ts), so an image is embedded and scored
 * in one request.
 */
import { parentPort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DomainError } from '../errors.ts';
import { ClipTokenizer } from './tokenizer.ts';
import {
  decodeToRgb,
  fastPixelValues,
  parsePreprocessorConfig,
  toPixelValues,
  type PreprocessorConfig,
} from './image-preprocessing.ts';
import {
  DEADLINE_EXCEEDED,
  type EncoderSettings,
  type ExecutionProvider,
  type ItemError,
  type LoadedModelInfo,
  type PreprocessingMode,
  type WorkerRequest,
  type WorkerResponse,
  type WorkerResult,
} from './protocol.ts';
import { l2NormalizeRows } from './vectors.ts';
import { ScoringHeads } from './scoring-heads.ts';
import { lowerThisThreadPriority } from '../lib/thread-priority.ts';

interface LoadedModel {
  text: ort.InferenceSession;
  vision: ort.InferenceSession;
  tokenizer: ClipTokenizer;
  preprocessor: PreprocessorConfig;
  preprocessing: PreprocessingMode;
  info: LoadedModelInfo;
}

/** Texts per ONNX run; longer batches are split so padding stays small. */
const TEXT_RUN_SIZE = 64;

const models = new Map<string, Promise<LoadedModel>>();
/** The label banks this worker scores with. */
const heads = new ScoringHeads();

/** What to run on a machine whose onnxruntime-node has no GPU provider libraries. */
export const GPU_INSTALL_HINT =
  "install onnxruntime-node's GPU binaries on a machine with CUDA 12 and cuDNN 9 (`ONNXRUNTIME_NODE_INSTALL=cuda12 " +
  'npm rebuild onnxruntime-node`; TensorRT also needs its own libraries), or add cpu to ' +
  'NEGLABEL_EXECUTION_PROVIDERS to allow running on the CPU';

/**
 * The sessions on the first provider of `preferred` that loads. A GPU provider is paired with the
 * CPU one, which runs the operators the GPU provider lacks; the CPU alone is used only when
 * `preferred` lists it (the operator's permission to fall back).
 */
async function createSessions(dir: string, preferred: ExecutionProvider[]) {
  const failures: string[] = [];
  for (const provider of preferred) {
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    };
    try {
      const create = (file: string) => ort.InferenceSession.create(path.join(dir, file), options);
      // A GPU provider that cannot load fails inside onnxruntime's own threads; two such failures
      // at once aborted the process (a Napi::Error thrown while another was in flight, seen in CI),
      // so a GPU provider's sessions are created one after the other. The CPU's load side by side.
      const [text, vision] =
        provider === 'cpu'
          ? await Promise.all([create('text_model.onnx'), create('vision_model.onnx')])
          : [await create('text_model.onnx'), await create('vision_model.onnx')];
      return {
        text,
        vision,
        executionProvider: provider,
        providerFallback: failures.length ? failures.join('; ') : null,
      };
    } catch (error) {
      if (provider === 'cpu') throw error; // the graph itself is broken: say that, not a provider story
      failures.push(`${provider}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `no execution provider of NEGLABEL_EXECUTION_PROVIDERS=${preferred.join(',')} could load ` +
      `(${failures.join('; ')}): ${GPU_INSTALL_HINT}`,
  );
}

async function loadModel(dir: string, settings: EncoderSettings): Promise<LoadedModel> {
  const { text, vision, executionProvider, providerFallback } = await createSessions(dir, settings.executionProviders);
  for (const [session, input, output] of [
    [text, 'input_ids', 'text_embeds'],
    [vision, 'pixel_values', 'image_embeds'],
  ] as const) {
    if (!session.inputNames.includes(input) || !session.outputNames.includes(output)) {
      throw new Error(
        `${input === 'input_ids' ? 'text' : 'vision'}_model.onnx must take ${input} and return ${output}; it has ` +
          `inputs [${session.inputNames}] and outputs [${session.outputNames}]`,
      );
    }
  }
  const config = readJsonIfPresent(path.join(dir, 'config.json'));
  const contextLength = config?.text_config?.max_position_embeddings ?? 77;
  const tokenizer = ClipTokenizer.fromTokenizerJson(
    readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'),
    contextLength,
  );
  const preprocessor = parsePreprocessorConfig(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
  const model: LoadedModel = {
    text,
    vision,
    tokenizer,
    preprocessor,
    preprocessing: settings.preprocessing,
    info: { embeddingDim: 0, imageSize: preprocessor.cropHeight, contextLength, executionProvider, providerFallback },
  };
  // One tiny run proves the graph works and tells the embedding width.
  model.info.embeddingDim = (await runText(model, [tokenizer.encode('a')])).dim;
  return model;
}

function readJsonIfPresent(file: string): any {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function getModel(modelId: string): Promise<LoadedModel> {
  const model = models.get(modelId);
  if (!model) throw new Error(`model ${modelId} is not loaded in this worker`);
  return model;
}

/** One text-session run over token id rows of any lengths, padded to the longest with the end token. */
async function runText(
  model: LoadedModel,
  rows: number[][],
): Promise<{ data: Float32Array; norms: Float32Array; dim: number }> {
  const length = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * length).fill(BigInt(model.tokenizer.endToken));
  const mask = new BigInt64Array(rows.length * length);
  rows.forEach((row, r) => {
    for (let t = 0; t < row.length; t++) {
      ids[r * length + t] = BigInt(row[t]);
      mask[r * length + t] = 1n;
    }
  });
  const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [rows.length, length]) };
  if (model.text.inputNames.includes('attention_mask'))
    feeds.attention_mask = new ort.Tensor('int64', mask, [rows.length, length]);
  const output = (await model.text.run(feeds, ['text_embeds'])).text_embeds;
  const dim = output.dims[1] as number;
  const norms = new Float32Array(rows.length);
  return { data: l2NormalizeRows(output.data as Float32Array, dim, norms), norms, dim };
}

/** An item whose request's deadline (epoch ms) has passed is dropped before it reaches a session. */
function pastDeadline(deadlines: readonly (number | null)[] | undefined, index: number): boolean {
  const deadline = deadlines?.[index];
  return deadline != null && Date.now() > deadline;
}

/** Session runs of one request: when each started (epoch ms), how long it took, and which run each item went in. */
class RunTimings {
  readonly batchSizes: number[] = [];
  readonly startedAt: number[] = [];
  readonly seconds: number[] = [];
  readonly itemRun: Int32Array;
  constructor(items: number) {
    this.itemRun = new Int32Array(items).fill(-1);
  }
  async time<T>(items: readonly number[], run: () => Promise<T>): Promise<T> {
    const index = this.batchSizes.length;
    this.startedAt.push(Date.now());
    const started = performance.now();
    const result = await run();
    this.seconds.push((performance.now() - started) / 1000);
    this.batchSizes.push(items.length);
    for (const item of items) this.itemRun[item] = index;
    return result;
  }
  get result() {
    const { batchSizes, startedAt, seconds, itemRun } = this;
    return { runs: batchSizes.length, batchSizes, timings: { startedAt, seconds, itemRun } };
  }
}

async function embedTexts(
  model: LoadedModel,
  texts: string[],
  deadlines: readonly (number | null)[] | undefined,
): Promise<WorkerResult> {
  // one text that cannot be tokenized fails alone, not the other callers' texts in its batch
  const errors: (ItemError | null)[] = texts.map(() => null);
  const rows = texts.map((t, i) => {
    try {
      return model.tokenizer.encode(t);
    } catch (error) {
      errors[i] = toItemError(error);
      return [model.tokenizer.startToken, model.tokenizer.endToken];
    }
  });
  // CLIP's text tower is causal and pools at the end token, so padding only to the longest
  // row of a run gives the same embedding as padding to 77. Sorting by length keeps runs tight.
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].length - rows[b].length);
  let out: Float32Array | undefined;
  const norms = new Float32Array(texts.length);
  let dim = model.info.embeddingDim;
  const timings = new RunTimings(texts.length);
  for (let start = 0; start < order.length; start += TEXT_RUN_SIZE) {
    const chunk = order.slice(start, start + TEXT_RUN_SIZE).filter((i) => {
      if (!pastDeadline(deadlines, i)) return true;
      errors[i] = DEADLINE_EXCEEDED;
      return false;
    });
    if (chunk.length === 0) continue;
    const result = await timings.time(chunk, () =>
      runText(
        model,
        chunk.map((i) => rows[i]),
      ),
    );
    dim = result.dim;
    out ??= new Float32Array(texts.length * dim);
    chunk.forEach((original, j) => {
      out!.set(result.data.subarray(j * dim, (j + 1) * dim), original * dim);
      norms[original] = result.norms[j];
    });
  }
  return {
    kind: 'texts',
    embeddings: out ?? new Float32Array(texts.length * dim),
    norms,
    tokenCounts: Int32Array.from(rows, (row, i) => (errors[i] ? 0 : row.length)),
    dim,
    errors,
    ...timings.result,
  };
}

async function embedImages(
  model: LoadedModel,
  request: Extract<WorkerRequest, { kind: 'images' }>,
): Promise<WorkerResult> {
  const { images, alpha, maxPixels, deadlines } = request;
  const size = model.preprocessor.cropWidth * model.preprocessor.cropHeight * 3;
  const errors: (ItemError | null)[] = [];
  const pixels: Float32Array[] = [];
  for (const [i, bytes] of images.entries()) {
    if (pastDeadline(deadlines, i)) {
      errors.push(DEADLINE_EXCEEDED);
      continue;
    }
    try {
      const handling = alpha[i] ?? model.preprocessor.alpha;
      pixels.push(
        model.preprocessing === 'fast'
          ? await fastPixelValues(bytes, maxPixels, handling, model.preprocessor)
          : toPixelValues(await decodeToRgb(bytes, maxPixels, handling), model.preprocessor),
      );
      errors.push(null);
    } catch (error) {
      errors.push(toItemError(error));
    }
  }
  const dim = model.info.embeddingDim;
  const embeddings = new Float32Array(images.length * dim);
  const timings = new RunTimings(images.length);
  // decoding took time: drop what expired meanwhile, before the session
  const ready: number[] = [];
  const kept: Float32Array[] = [];
  let next = 0;
  errors.forEach((error, i) => {
    if (error) return;
    const p = pixels[next++];
    if (pastDeadline(deadlines, i)) errors[i] = DEADLINE_EXCEEDED;
    else {
      ready.push(i);
      kept.push(p);
    }
  });
  const noScores = () => errors.map(() => null);
  if (kept.length === 0) return { kind: 'images', embeddings, dim, errors, scores: noScores(), ...timings.result };
  const batch = new Float32Array(kept.length * size);
  kept.forEach((p, i) => {
    batch.set(p, i * size);
  });
  const tensor = new ort.Tensor('float32', batch, [
    kept.length,
    3,
    model.preprocessor.cropHeight,
    model.preprocessor.cropWidth,
  ]);
  const output = (await timings.time(ready, () => model.vision.run({ pixel_values: tensor }, ['image_embeds'])))
    .image_embeds;
  const normalized = l2NormalizeRows(output.data as Float32Array, dim);
  ready.forEach((i, row) => {
    embeddings.set(normalized.subarray(row * dim, (row + 1) * dim), i * dim);
  });
  const scores =
    request.heads && request.itemHeads
      ? await heads.scoreItems(
          embeddings,
          dim,
          errors.map((e) => e === null),
          request.heads,
          request.itemHeads,
        )
      : noScores();
  return { kind: 'images', embeddings, dim, errors, scores, ...timings.result };
}

function toItemError(error: unknown): ItemError {
  if (error instanceof DomainError) return { code: error.code, message: error.message, details: error.details };
  return { code: 'INTERNAL_SERVER_ERROR', message: (error as Error)?.message ?? String(error) };
}

async function handle(request: WorkerRequest): Promise<WorkerResult> {
  switch (request.kind) {
    case 'load': {
      let model = models.get(request.modelId);
      if (!model) {
        lowerThisThreadPriority(request.settings.threadNice);
        model = loadModel(request.dir, request.settings);
        models.set(request.modelId, model);
        model.catch(() => models.delete(request.modelId));
      }
      return { kind: 'load', info: (await model).info };
    }
    case 'texts':
      return embedTexts(await getModel(request.modelId), request.texts, request.deadlines);
    case 'images':
      return embedImages(await getModel(request.modelId), request);
    case 'bank':
      heads.register(request.key, request.bank);
      return { kind: 'bank' };
    case 'drop-bank':
      heads.drop(request.key);
      return { kind: 'drop-bank' };
    case 'head-count':
      return { kind: 'head-count', count: heads.size };
    case 'score':
      return { kind: 'score', ...(await heads.score(request.key, request.images, request.topK, request.memory)) };
  }
}

parentPort!.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => {
      const transfer = 'embeddings' in result ? [result.embeddings.buffer as ArrayBuffer] : [];
      parentPort!.postMessage({ id: request.id, ok: true, result } satisfies WorkerResponse, transfer);
    },
    (error) =>
      parentPort!.postMessage({ id: request.id, ok: false, error: toItemError(error) } satisfies WorkerResponse),
  );
});
