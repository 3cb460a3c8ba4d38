/**
 * Local encoder: ONNX sessions in a worker pool, behind shared DataLoaders.
 *
 * One long-lived DataLoader per (model, modality) is shared by every request, so concurrent
 * single-image requests arriving within the collection window reach the session as one batch.
 */
import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import { DomainError, ModelUnavailableError } from '../errors.ts';
import { requestScope } from '../logger.ts';
import {
  noEncoderStats,
  type EncodedTexts,
  type Encoder,
  type EncoderEvent,
  type EncoderStats,
  type ImageToEncode,
  type ModelStatus,
  type ScoredImage,
  type ScoringHead,
  type TextEmbeddings,
} from './encoder.ts';
import type { ImageScoreResult, LabelBank } from '../neglabel/scoring.ts';
import { alphaKey, type AlphaHandling } from './image-preprocessing.ts';
import { LruCache } from './lru-cache.ts';
import {
  describeModelFolder,
  findModelFolders,
  readLogitScale,
  readModelName,
  type ModelFolder,
} from './model-folder.ts';
import { DEADLINE_EXCEEDED, type EncoderSettings, type WorkerResult } from './protocol.ts';
import { rows, stack } from './vectors.ts';
import { EncoderWorkerPool } from './worker-pool.ts';

export interface OnnxEncoderOptions {
  modelsDir: string;
  /** folder of the default model; when absent, the first model found in modelsDir */
  defaultModelDir?: string;
  workers: number;
  settings: EncoderSettings;
  maxBatchSize: number;
  batchWindowMs: number;
  maxImagePixels: number;
  cacheEntries: number;
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/**
 * A text and its hash, computed once: the cache is keyed by the hash, so an entry costs the same
 * whatever the text's length.
 */
interface TextKey extends Arrival {
  hash: string;
  text: string;
}

interface ImageKey extends Arrival {
  /** cache scope and content hash, plus the transparency handling when it is not the model's default */
  hash: string;
  bytes: Uint8Array;
  alpha?: AlphaHandling | null;
  /** the head to score against in the same worker request, and where its result is left */
  scoring?: HeadSlot;
}

/**
 * An image's request to be scored where it is embedded. The batch leaves the result here; an
 * image that did not reach a worker (a cache hit, a duplicate in the batch) finds it empty and is
 * scored on its own.
 */
interface HeadSlot {
  head: ScoringHead;
  scored?: { result: ImageScoreResult; penalty: number | null };
}

/** When an item was asked for (epoch ms), and the deadline of the request that asked (or null). */
interface Arrival {
  arrivedAt: number;
  deadline: number | null;
}

/** The arrival of an item asked for now, within the current request's deadline. */
function arrivalNow(): Arrival {
  return { arrivedAt: Date.now(), deadline: requestScope.getStore()?.deadline ?? null };
}

/** A cached text: its embedding and its length in tokens. */
interface EncodedText {
  vector: Float32Array;
  tokens: number;
}

interface ModelEntry {
  status: ModelStatus;
  texts?: DataLoader<TextKey, EncodedText, string>;
  images?: DataLoader<ImageKey, Float32Array, string>;
  textCache?: LruCache<string, Promise<EncodedText>>;
  imageCache?: LruCache<string, Promise<Float32Array>>;
}

const BULK_CHUNK = 256;
const INSTALL_HINT =
  'put a CLIP ONNX export (text_model.onnx, vision_model.onnx, tokenizer.json, preprocessor_config.json) in a ' +
  'folder under models/ or point NEGLABEL_MODEL_DIR at one, then restart';

export class OnnxEncoder implements Encoder {
  private readonly pool: EncoderWorkerPool;
  private readonly entries = new Map<string, ModelEntry>();
  private readonly counters: EncoderStats = noEncoderStats();
  private defaultId: string | null = null;
  private readonly listeners: Array<(event: EncoderEvent) => void> = [];

  private constructor(private readonly options: OnnxEncoderOptions) {
    this.pool = new EncoderWorkerPool(options.workers, options.settings, (error) =>
      options.onLog?.('error', 'encoder worker failed', { err: error.message }),
    );
  }

  /** Finds the models and loads each into the workers; failures are recorded, not thrown. */
  static async start(options: OnnxEncoderOptions): Promise<OnnxEncoder> {
    const encoder = new OnnxEncoder(options);
    const folders = findModelFolders(options.modelsDir);
    let defaultFolder: ModelFolder | undefined = folders[0];
    if (options.defaultModelDir) {
      defaultFolder = describeModelFolder(options.defaultModelDir);
      if (!folders.some((f) => f.id === defaultFolder!.id)) folders.unshift(defaultFolder);
    }
    encoder.defaultId = defaultFolder?.id ?? null;
    await Promise.all(folders.map((folder) => encoder.loadFolder(folder, folder.id === encoder.defaultId)));
    return encoder;
  }

  private async loadFolder(folder: ModelFolder, isDefault: boolean): Promise<void> {
    const status: ModelStatus = {
      id: folder.id,
      name: folder.id,
      dir: folder.dir,
      isDefault,
      loaded: false,
      error: null,
      embeddingDim: null,
      imageSize: null,
      contextLength: null,
      logitScale: null,
      executionProvider: null,
      providerFallback: null,
    };
    this.entries.set(folder.id, { status });
    if (folder.missing.length > 0) {
      // `models` is public: name the folder, never its absolute path (the log has that)
      status.error = `model folder ${folder.id} lacks ${folder.missing.join(', ')}: ${INSTALL_HINT}`;
      this.options.onLog?.('warn', 'model folder incomplete', { model: folder.id, missing: folder.missing });
      return;
    }
    const started = Date.now();
    try {
      status.name = readModelName(folder);
      status.logitScale = readLogitScale(folder);
      const { info } = await this.pool.load(folder.id, folder.dir);
      Object.assign(status, info, { loaded: true });
      this.entries.set(folder.id, { status, ...this.createLoaders(folder.id) });
      this.options.onLog?.('info', 'model loaded', { model: folder.id, ms: Date.now() - started, ...info });
    } catch (error) {
      status.error =
        `loading model folder ${folder.id} failed: ` + `${(error as Error).message.split(folder.dir).join(folder.id)}`;
      this.options.onLog?.('error', 'model failed to load', { model: folder.id, err: (error as Error).message });
    }
  }

  private createLoaders(modelId: string): Omit<ModelEntry, 'status'> {
    const { maxBatchSize, batchWindowMs, cacheEntries, maxImagePixels } = this.options;
    // an idle worker takes what this turn of the event loop brought at once: waiting for more would
    // only delay a lone request (5 ms of a ~9 ms image at concurrency 1); while every worker is busy,
    // the window collects the requests that arrive meanwhile into one batch
    const batchScheduleFn = (callback: () => void) =>
      this.pool.hasIdleWorker ? setImmediate(callback) : setTimeout(callback, batchWindowMs);
    const textCache = new LruCache<string, Promise<EncodedText>>(cacheEntries);
    const imageCache = new LruCache<string, Promise<Float32Array>>(cacheEntries);
    // a failure (a deadline passed, an undecodable file) is not worth remembering
    const forgetFailures =
      <K, V>(loader: DataLoader<K, V, string>, keys: readonly K[]) =>
      (results: Array<V | DomainError>) =>
        results.map((r, i) => {
          if (r instanceof DomainError) loader.clear(keys[i]);
          return r;
        });
    const texts: DataLoader<TextKey, EncodedText, string> = new DataLoader<TextKey, EncodedText, string>(
      async (keys) =>
        this.encodeTexts(modelId, keys).then(({ results, tokenCounts }) =>
          forgetFailures(
            texts,
            keys,
          )(results.map((r, i) => (r instanceof DomainError ? r : { vector: r, tokens: tokenCounts[i] }))),
        ),
      { maxBatchSize, batchScheduleFn, cacheKeyFn: (key) => key.hash, cacheMap: textCache },
    );
    const images: DataLoader<ImageKey, Float32Array, string> = new DataLoader<ImageKey, Float32Array, string>(
      async (keys) => {
        const { results } = await this.dispatch(modelId, 'image', keys, (live) => {
          // Copies, because the buffers are transferred to the worker (and a Buffer may share its pool).
          const copies = live.map((i) => new Uint8Array(keys[i].bytes));
          // the batch mixes requests: each item names its request's head (one entry per head asked)
          const heads = [...new Set(live.flatMap((i) => keys[i].scoring?.head ?? []))];
          const itemHeads = Int32Array.from(live, (i) => {
            const head = keys[i].scoring?.head;
            return head ? heads.indexOf(head) : -1;
          });
          return (
            this.pool.run(
              {
                kind: 'images',
                modelId,
                images: copies,
                alpha: live.map((i) => keys[i].alpha ?? null),
                maxPixels: maxImagePixels,
                deadlines: live.map((i) => keys[i].deadline),
                ...(heads.length > 0 && { heads, itemHeads }),
              },
              copies.map((c) => c.buffer as ArrayBuffer),
            ) as Promise<Extract<WorkerResult, { kind: 'images' }>>
          ).then((result) => {
            live.forEach((i, j) => {
              const slot = keys[i].scoring;
              if (slot && result.scores[j]) slot.scored = result.scores[j];
            });
            return result;
          });
        });
        return forgetFailures(images, keys)(results);
      },
      { maxBatchSize, batchScheduleFn, cacheKeyFn: (key) => key.hash, cacheMap: imageCache },
    );
    return { texts, images, textCache, imageCache };
  }

  private encodeTexts(modelId: string, keys: ReadonlyArray<Arrival & { text: string }>) {
    return this.dispatch(
      modelId,
      'text',
      keys,
      (live) =>
        this.pool.run({
          kind: 'texts',
          modelId,
          texts: live.map((i) => keys[i].text),
          deadlines: live.map((i) => keys[i].deadline),
        }) as Promise<Extract<WorkerResult, { kind: 'texts' }>>,
    );
  }

  /**
   * Sends a batch to a worker, except the items whose deadline has passed (DEADLINE_EXCEEDED
   * without encoding; the worker drops those that expire while they wait there); tells the
   * subscribers of every session run (size, compute time, each item's wait) and of every shed item.
   */
  private async dispatch(
    modelId: string,
    kind: 'text' | 'image',
    items: readonly Arrival[],
    send: (live: number[]) => Promise<Extract<WorkerResult, { kind: 'texts' | 'images' }>>,
  ): Promise<{ results: Array<Float32Array | DomainError>; norms: Float32Array; tokenCounts: Int32Array }> {
    const now = Date.now();
    const live: number[] = [];
    const results = new Array<Float32Array | DomainError>(items.length);
    items.forEach((item, i) => {
      if (item.deadline !== null && now > item.deadline)
        results[i] = new DomainError(DEADLINE_EXCEEDED.code, DEADLINE_EXCEEDED.message);
      else live.push(i);
    });
    const norms = new Float32Array(items.length);
    const tokenCounts = new Int32Array(items.length);
    let shed = items.length - live.length;
    if (live.length > 0) {
      const result = await send(live);
      this.count(kind, result.batchSizes);
      const embeddings = rows(result.embeddings, result.dim);
      live.forEach((item, j) => {
        const error = result.errors[j];
        if (error?.code === 'DEADLINE_EXCEEDED') shed++;
        results[item] = error ? new DomainError(error.code, error.message, error.details) : embeddings[j];
        if (result.kind === 'texts') {
          norms[item] = result.norms[j];
          tokenCounts[item] = result.tokenCounts[j];
        }
      });
      const { startedAt, seconds, itemRun } = result.timings;
      // each item's wait, grouped by the session run it went in (one pass over the items)
      const waits = result.batchSizes.map((): number[] => []);
      live.forEach((item, j) => {
        const run = itemRun[j];
        if (run >= 0) waits[run].push((startedAt[run] - items[item].arrivedAt) / 1000);
      });
      result.batchSizes.forEach((size, run) => {
        this.emit({
          type: 'batch',
          model: modelId,
          kind,
          size,
          computeSeconds: seconds[run],
          queueSeconds: waits[run],
        });
      });
    }
    if (shed > 0) this.emit({ type: 'shed', model: modelId, kind, count: shed });
    return { results, norms, tokenCounts };
  }

  private emit(event: EncoderEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  subscribe(listener: (event: EncoderEvent) => void): void {
    this.listeners.push(listener);
  }

  private count(modality: 'text' | 'image', batchSizes: number[]): void {
    const sizes = modality === 'text' ? this.counters.textBatchSizes : this.counters.imageBatchSizes;
    for (const size of batchSizes) {
      sizes.set(size, (sizes.get(size) ?? 0) + 1);
      if (modality === 'text') this.counters.textItems += size;
      else this.counters.imageItems += size;
    }
    if (modality === 'text') this.counters.textRuns += batchSizes.length;
    else this.counters.imageRuns += batchSizes.length;
  }

  models(): ModelStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.status }));
  }

  resolveModel(id?: string | null): ModelStatus {
    return this.loadedEntry(id).status;
  }

  private loadedEntry(id?: string | null): Required<ModelEntry> {
    const wanted = id ?? this.defaultId;
    if (!wanted) throw new ModelUnavailableError('NO_MODEL', `No model is installed: ${INSTALL_HINT}.`);
    const entry = this.entries.get(wanted);
    if (!entry) {
      throw new ModelUnavailableError(
        'MODEL_NOT_FOUND',
        `Model ${JSON.stringify(wanted)} does not exist. Installed models: ` +
          `${[...this.entries.keys()].join(', ') || 'none'} (query \`models\`).`,
        { model: wanted },
      );
    }
    if (!entry.status.loaded || !entry.texts || !entry.images) {
      throw new ModelUnavailableError(
        'MODEL_NOT_LOADED',
        `Model ${JSON.stringify(wanted)} is not loaded: ${entry.status.error}`,
        { model: wanted },
      );
    }
    return entry as Required<ModelEntry>;
  }

  async embedTexts(modelId: string, texts: string[]): Promise<EncodedTexts> {
    const { texts: loader, textCache } = this.loadedEntry(modelId);
    const arrival = arrivalNow();
    const keys = texts.map((text) => ({ hash: createHash('sha256').update(text).digest('base64'), text, ...arrival }));
    this.counters.textCacheHits += keys.filter((k) => textCache.get(k.hash) !== undefined).length;
    const results = await loader.loadMany(keys);
    const vectors: Float32Array[] = [];
    const tokenCounts: number[] = [];
    for (const r of results) {
      if (r instanceof Error) throw r;
      vectors.push(r.vector);
      tokenCounts.push(r.tokens);
    }
    return { vectors, tokenCounts };
  }

  async embedTextsBulk(modelId: string, texts: string[]): Promise<TextEmbeddings> {
    this.loadedEntry(modelId);
    // Chunks of similar length pad little: order by character length (a good proxy for token
    // length; the worker sorts each chunk by token length too), then put results back in place.
    const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
    const starts = Array.from({ length: Math.ceil(order.length / BULK_CHUNK) }, (_, c) => c * BULK_CHUNK);
    const done = await Promise.all(
      starts.map((i) =>
        this.encodeTexts(
          modelId,
          order.slice(i, i + BULK_CHUNK).map((j) => ({ text: texts[j], arrivedAt: Date.now(), deadline: null })),
        ),
      ),
    );
    const encoded = done.flatMap((c) => c.results);
    const encodedNorms = done.flatMap((c) => [...c.norms]);
    const vectors = new Array<Float32Array>(texts.length);
    const norms = new Float32Array(texts.length);
    order.forEach((original, position) => {
      const e = encoded[position];
      if (e instanceof DomainError) throw e;
      vectors[original] = e;
      norms[original] = encodedNorms[position];
    });
    return { vectors, norms };
  }

  embedImages(modelId: string, images: ImageToEncode[]): Promise<Array<Float32Array | DomainError>> {
    return this.loadImages(modelId, images, []);
  }

  /** Embeddings through the shared loader; with slots, each image also asks to be scored by slots[i]'s head. */
  private async loadImages(
    modelId: string,
    images: ImageToEncode[],
    slots: readonly HeadSlot[],
  ): Promise<Array<Float32Array | DomainError>> {
    const { images: loader, imageCache } = this.loadedEntry(modelId);
    const arrival = arrivalNow();
    const keys = images.map(({ bytes, sha256, alpha, cacheScope = '' }, i): ImageKey => {
      const hash = sha256 ?? createHash('sha256').update(bytes).digest('hex');
      // the same bytes composited differently are a different picture
      const picture = alpha ? `${hash}/${alphaKey(alpha)}` : hash;
      return { hash: `${cacheScope}|${picture}`, bytes, alpha, scoring: slots[i], ...arrival };
    });
    this.counters.imageCacheHits += keys.filter((k) => imageCache.get(k.hash) !== undefined).length;
    const results = await loader.loadMany(keys);
    return results.map((r) =>
      r instanceof DomainError || !(r instanceof Error) ? r : new DomainError('INTERNAL_SERVER_ERROR', r.message),
    );
  }

  async embedAndScore(
    modelId: string,
    images: ImageToEncode[],
    head: ScoringHead,
  ): Promise<Array<ScoredImage | DomainError>> {
    const slots: HeadSlot[] = images.map(() => ({ head }));
    const embedded = await this.loadImages(modelId, images, slots);
    // the images no worker scored (cached, or a duplicate of another in the batch): one more request
    const unscored = embedded.flatMap((e, i) => (e instanceof DomainError || slots[i].scored ? [] : [i]));
    if (unscored.length > 0) {
      const { results, penalties } = await this.scoreEmbeddings(
        unscored.map((i) => embedded[i] as Float32Array),
        head,
      );
      unscored.forEach((i, row) => {
        slots[i].scored = { result: results[row], penalty: penalties?.[row] ?? null };
      });
    }
    return embedded.map((e, i) => (e instanceof DomainError ? e : { embedding: e, ...slots[i].scored! }));
  }

  async scoreEmbeddings(
    embeddings: Float32Array[],
    head: ScoringHead,
  ): Promise<{ results: ImageScoreResult[]; penalties: number[] | null }> {
    if (embeddings.length === 0) return { results: [], penalties: head.memory ? [] : null };
    const images = stack(embeddings, embeddings[0].length);
    const { results, penalties } = (await this.pool.run(
      { kind: 'score', key: head.key, images, topK: head.topK, memory: head.memory },
      [images.buffer as ArrayBuffer],
    )) as Extract<WorkerResult, { kind: 'score' }>;
    return { results, penalties };
  }

  /** The bank is copied to every worker, since any of them may embed the model's next batch. */
  loadHead(key: string, bank: LabelBank): Promise<void> {
    return this.pool.registerBank(key, bank);
  }

  dropHead(key: string): void {
    this.pool.dropBank(key);
  }

  headsPerWorker(): Promise<number[]> {
    return this.pool.headCounts();
  }

  stats(): EncoderStats {
    return {
      ...this.counters,
      imageBatchSizes: new Map(this.counters.imageBatchSizes),
      textBatchSizes: new Map(this.counters.textBatchSizes),
      workerRequests: this.pool.timing.requests,
      workerSeconds: this.pool.timing.seconds,
      workerInFlight: this.pool.inFlight,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
