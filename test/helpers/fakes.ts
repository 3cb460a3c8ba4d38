/**
 * Shared in-memory fakes for the unit tests of services: an encoder that embeds deterministically
 * and scores with the pure NegLabel math, and a small scoring world (one taxonomy, its version and
 * mined set, a history) around a real ScoringService. They record what reaches them, so a test can
 * show that a refused request cost nothing.
 */
import { createHash } from 'node:crypto';
import { DomainError } from '../../src/errors.ts';
import {
  noEncoderStats,
  type EncodedTexts,
  type Encoder,
  type EncoderStats,
  type ImageToEncode,
  type ModelStatus,
  type ScoredImage,
  type ScoringHead,
  type TextEmbeddings,
} from '../../src/inference/encoder.ts';
import { memoryPenalty } from '../../src/neglabel/memory.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';
import { scoreImage, type ImageScoreResult, type LabelBank } from '../../src/neglabel/scoring.ts';
import type { NewScoringRecord, ScoringRecordRow } from '../../src/domain/scoring-record.ts';
import type { AdaptiveMemories } from '../../src/services/adaptive-memory.ts';
import { EmbeddingService, type EmbeddingLimits } from '../../src/services/embedding-service.ts';
import { FetchSlots } from '../../src/services/url-images.ts';
import { ScoringService } from '../../src/services/scoring-service.ts';
import type { TaxonomyService } from '../../src/services/taxonomy-service.ts';
import type { NegativeSetRepository } from '../../src/repositories/negative-set-repository.ts';
import type {
  IdempotencyClaim,
  IdempotentRequest,
  ScoringRecordRepository,
} from '../../src/repositories/scoring-record-repository.ts';
import type { TaxonomyRow, TaxonomyVersionRow } from '../../src/repositories/taxonomy-repository.ts';

/** A unit vector of `dim` drawn from the hash of `bytes`: the same input always embeds the same. */
function hashVector(bytes: Uint8Array | string, dim: number): Float32Array {
  const digest = createHash('sha256').update(bytes).digest();
  const v = Float32Array.from({ length: dim }, (_, i) => digest[i % digest.length] - 127.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/**
 * An Encoder of one model, `fake`, of width `dim`. Images `undecodable` picks fail to decode
 * (INVALID_IMAGE); heads score with src/neglabel/scoring.ts and memoryPenalty.
 */
export class FakeEncoder implements Encoder {
  readonly calls: Array<{ kind: 'texts' | 'images' | 'score' | 'load-head' | 'drop-head'; count: number }> = [];
  readonly heads = new Map<string, LabelBank>();

  constructor(
    readonly dim = 8,
    private readonly undecodable: (bytes: Uint8Array) => boolean = () => false,
  ) {}

  models(): ModelStatus[] {
    return [this.resolveModel()];
  }

  resolveModel(): ModelStatus {
    return {
      id: 'fake',
      name: 'fake',
      dir: '/nonexistent',
      isDefault: true,
      loaded: true,
      error: null,
      embeddingDim: this.dim,
      imageSize: 224,
      contextLength: 77,
      logitScale: null,
      executionProvider: 'cpu',
      providerFallback: null,
    };
  }

  async embedTexts(_modelId: string, texts: string[]): Promise<EncodedTexts> {
    this.calls.push({ kind: 'texts', count: texts.length });
    return { vectors: texts.map((t) => hashVector(t, this.dim)), tokenCounts: texts.map((t) => t.length + 2) };
  }

  async embedTextsBulk(modelId: string, texts: string[]): Promise<TextEmbeddings> {
    const { vectors } = await this.embedTexts(modelId, texts);
    return { vectors, norms: new Float32Array(texts.length).fill(1) };
  }

  async embedImages(_modelId: string, images: ImageToEncode[]): Promise<Array<Float32Array | DomainError>> {
    this.calls.push({ kind: 'images', count: images.length });
    return images.map(({ bytes }) =>
      this.undecodable(bytes) ? new DomainError('INVALID_IMAGE', 'not an image') : hashVector(bytes, this.dim),
    );
  }

  async loadHead(key: string, bank: LabelBank): Promise<void> {
    this.calls.push({ kind: 'load-head', count: 1 });
    this.heads.set(key, bank);
  }

  dropHead(key: string): void {
    this.calls.push({ kind: 'drop-head', count: 1 });
    this.heads.delete(key);
  }

  async headsPerWorker(): Promise<number[]> {
    return [this.heads.size];
  }

  async embedAndScore(
    modelId: string,
    images: ImageToEncode[],
    head: ScoringHead,
  ): Promise<Array<ScoredImage | DomainError>> {
    const embedded = await this.embedImages(modelId, images);
    return embedded.map((e) => (e instanceof DomainError ? e : { embedding: e, ...this.scoreOne(e, head) }));
  }

  async scoreEmbeddings(
    embeddings: Float32Array[],
    head: ScoringHead,
  ): Promise<{ results: ImageScoreResult[]; penalties: number[] | null }> {
    this.calls.push({ kind: 'score', count: embeddings.length });
    const scored = embeddings.map((e) => this.scoreOne(e, head));
    return { results: scored.map((s) => s.result), penalties: head.memory ? scored.map((s) => s.penalty!) : null };
  }

  private scoreOne(embedding: Float32Array, head: ScoringHead) {
    const bank = this.heads.get(head.key);
    if (!bank) throw new DomainError('HEAD_NOT_LOADED', `scoring head ${head.key} is not loaded`);
    const penalty = head.memory
      ? memoryPenalty(embedding, new Float32Array(head.memory.arena), head.memory.rows, this.dim)
      : null;
    return { result: scoreImage(bank, embedding, head.topK), penalty };
  }

  stats(): EncoderStats {
    return noEncoderStats();
  }

  subscribe(): void {}

  async close(): Promise<void> {}
}

export const FAKE_LIMITS: EmbeddingLimits = {
  maxTexts: 4,
  maxImages: 4,
  maxTextChars: 10,
  maxTextCharsPerRequest: 25,
  maxPixelsPerRequest: 100_000,
  maxImagePixels: 60_000,
  maxFileBytes: 1_000_000,
  maxRequestBytes: 2_000_000,
  url: {
    allowPrivate: null,
    connectTimeoutMs: 1000,
    totalTimeoutMs: 1000,
    maxBytes: 1_000_000,
    maxRedirects: 3,
    slots: new FetchSlots(8, 4),
  },
  keepUrlQuery: false,
};

/** A history in memory: what insertMany wrote, and the idempotency keys it claimed. */
export class FakeHistory {
  readonly rows: Array<NewScoringRecord & { id: string }> = [];
  readonly keys = new Map<string, IdempotentRequest>();
  readonly idempotencyWindowHours = 24;

  async insertMany(records: NewScoringRecord[], idempotency?: IdempotencyClaim) {
    const claim = idempotency && `${idempotency.principal}|${idempotency.key}`;
    const earlier = claim ? this.keys.get(claim) : undefined;
    if (earlier) return { earlier };
    const ids = records.map((r) => {
      const id = String(this.rows.length + 1);
      this.rows.push({ ...r, id });
      return id;
    });
    if (claim)
      this.keys.set(claim, {
        recordIds: ids,
        failures: [...(idempotency!.failures ?? [])],
        fingerprint: idempotency!.fingerprint,
      });
    return ids;
  }

  async idempotentRequest(principal: string, key: string) {
    return this.keys.get(`${principal}|${key}`) ?? null;
  }

  async findMany(ids: string[]): Promise<ScoringRecordRow[]> {
    return ids.map((id) => {
      const { imageEmbedding: _e, thumbnail: _t, ...row } = this.rows.find((r) => r.id === id)!;
      return { ...row, thumbnail: null, position: `1:${id}`, createdAt: new Date(0), taxonomyVersion: 1 };
    });
  }

  async latestId() {
    return this.rows.length;
  }
}

export interface ScoringWorld {
  service: ScoringService;
  encoder: FakeEncoder;
  history: FakeHistory;
  taxonomy: TaxonomyRow;
  version: TaxonomyVersionRow;
  /** the bank the version's active set makes, as the head should receive it */
  bank: LabelBank;
  /** taxonomy settings a test changes (thresholds) */
  settings: Partial<TaxonomyRow>;
}

/**
 * One taxonomy (labels cat, dog, owl) whose version 1 has an active mined set of 12 negatives in 3
 * groups, around a real ScoringService and EmbeddingService over the fakes. `memory` stands in for
 * the adaptive memories (the suite of src/services/adaptive-memory.ts tests the real one). SVG bytes
 * fail to decode (INVALID_IMAGE).
 */
export function scoringWorld(memory?: Pick<AdaptiveMemories, 'snapshot' | 'policy'>): ScoringWorld {
  // as the real encoders refuse SVG (a format they do not decode by design)
  const encoder = new FakeEncoder(8, (bytes) => /^\s*<(\?xml|svg)/.test(Buffer.from(bytes.subarray(0, 64)).toString()));
  const history = new FakeHistory();
  const dim = encoder.dim;
  const settings: Partial<TaxonomyRow> = {};
  const taxonomy = {
    id: 'taxonomy-1',
    name: 'animals',
    createdAt: new Date(0),
    createdBy: null,
    defaultThreshold: 0.5,
    thresholdSpace: 'SCORE',
    adaptiveThreshold: null,
    memoryFrozenSnapshot: null,
    memoryFrozenPolicy: null,
    storeThumbnails: false,
    thumbnailRetentionDays: 30,
  } satisfies TaxonomyRow;
  const version = {
    id: 'version-1',
    taxonomyId: taxonomy.id,
    version: 1,
    labels: ['cat', 'dog', 'owl'],
    promptTemplate: 'a photo of a {}.',
    promptTemplates: [],
    modelId: 'fake',
    logitScale: 100,
    activeNegativeSetId: 'set-1',
    createdAt: new Date(0),
    createdBy: null,
  } satisfies TaxonomyVersionRow;
  const negatives = randomUnitVectors(12, dim, 7);
  const idEmbeddings = version.labels.map((l) => hashVector(`a photo of a ${l}.`, dim));
  const bank: LabelBank = {
    dim,
    idEmbeddings: Float32Array.from(idEmbeddings.flatMap((v) => [...v])),
    negativeEmbeddings: negatives,
    negativeGroups: Int32Array.from({ length: 12 }, (_, i) => i % 3),
    groupCount: 3,
    logitScale: version.logitScale,
  };
  const taxonomies = {
    withVersionHead: async (id: string) => {
      if (id !== taxonomy.id) throw new DomainError('NOT_FOUND', `taxonomy ${id} does not exist`);
      return { taxonomy: { ...taxonomy, ...settings }, version };
    },
    versionById: async () => version,
    labelEmbeddings: async () => idEmbeddings,
    setThreshold: async (_id: string, threshold: number, space: string) => {
      if (space === 'ADAPTIVE_SCORE') settings.adaptiveThreshold = threshold;
      else Object.assign(settings, { defaultThreshold: threshold, thresholdSpace: space });
    },
  } as unknown as TaxonomyService;
  const sets = {
    loadBank: async () => ({
      words: Array.from({ length: 12 }, (_, i) => `negative${i}`),
      prompts: Array.from({ length: 12 }, (_, i) => `a photo of a negative${i}.`),
      groups: bank.negativeGroups,
      embeddings: Array.from({ length: 12 }, (_, i) => negatives.slice(i * dim, (i + 1) * dim)),
      idLabelEmbeddings: null,
    }),
    find: async () => ({ groupCount: 3 }),
  } as unknown as NegativeSetRepository;
  const memories = (memory ?? {
    policy: { maxSize: 16, maxFraction: 0.1, maxCallerShare: 0.25 },
    snapshot: async () => {
      throw new Error('this world has no adaptive memory: pass one to scoringWorld');
    },
  }) as AdaptiveMemories;
  const service = new ScoringService(
    taxonomies,
    new EmbeddingService(encoder, { ...FAKE_LIMITS, maxPixelsPerRequest: 1e8, maxImagePixels: 1e8 }),
    sets,
    history as unknown as ScoringRecordRepository,
    encoder,
    memories,
  );
  return { service, encoder, history, taxonomy, version, bank, settings };
}
