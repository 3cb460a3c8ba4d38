/**
 * Scoring use cases: score images against a taxonomy version's active negative set and record
 * each in the history; calibrate a threshold; evaluate OOD metrics. A version's label bank is
 * loaded once per negative set into the encoder as a head of its image model, so each image is
 * embedded and scored in one pass off the request thread.
 */
import { createHash } from 'node:crypto';
import { ConflictError, DomainError, InvalidInputError } from '../errors.ts';
import type { Encoder, ScoredImage, ScoringHead } from '../inference/encoder.ts';
import type { AdaptiveMemories, MemoryFreeze, MemoryKey } from './adaptive-memory.ts';
import type { MemoryPolicy } from '../neglabel/memory.ts';
import { LruCache } from '../inference/lru-cache.ts';
import { thumbnailOf } from '../inference/thumbnails.ts';
import { calibrateThreshold, oodMetrics } from '../neglabel/metrics.ts';
import type { ImageScoreResult, LabelBank } from '../neglabel/scoring.ts';
import type { NegativeSetRepository } from '../repositories/negative-set-repository.ts';
import type {
  IdempotencyClaim,
  IdempotentRequest,
  ScoringRecordRepository,
} from '../repositories/scoring-record-repository.ts';
import type { TaxonomyRow, TaxonomyVersionHead } from '../repositories/taxonomy-repository.ts';
import { stack } from '../inference/vectors.ts';
import { type EmbeddingService, imageCacheScope } from './embedding-service.ts';
import { allOrThrow, cleanFilename, type DecodedImage, type ImageInput, isImageFault } from './images.ts';
import type { TaxonomyService } from './taxonomy-service.ts';
import type { ImageFailure, NewScoringRecord, ThresholdSpace } from '../domain/scoring-record.ts';
import { unreadableCharacters } from './validation.ts';

interface LoadedBank {
  /** the bank's key as a head of the encoder */
  key: string;
  dim: number;
  idLabels: string[];
  negativeLabels: string[];
  negativePrompts: string[];
  setId: string;
  logitScale: number;
}

export interface ScoreImagesInput {
  taxonomyId: string;
  version?: number | null;
  images: ImageInput[];
  threshold?: number | null;
  thresholdSpace?: ThresholdSpace | null;
  topK?: number | null;
  /**
   * a retried request with the same key (per API key, within the idempotency window) returns the
   * first request's results; the key reused for a different request is refused
   */
  idempotencyKey?: string | null;
  /** also score against the memory of the history (adaptiveScore) */
  adaptive?: boolean | null;
}

/** What scoring against a taxonomy version needs: the taxonomy (thresholds, memory), the version, its bank. */
interface Prepared {
  taxonomy: TaxonomyRow;
  version: TaxonomyVersionHead;
  loaded: LoadedBank;
}

interface Threshold {
  value: number;
  space: ThresholdSpace;
}

/** A NegLabel result, with its adaptive score in adaptive mode (else null). */
type AdaptiveResult = ImageScoreResult & { adaptiveScore: number | null };

function adaptiveResult({ result, penalty }: ScoredImage): AdaptiveResult {
  return { ...result, adaptiveScore: penalty === null ? null : result.score - penalty };
}

/** The number a threshold space names. */
function scoreIn(scores: { score: number; logitScore: number; adaptiveScore: number | null }, space: ThresholdSpace) {
  if (space === 'SCORE') return scores.score;
  if (space === 'LOGIT_SCORE') return scores.logitScore;
  return scores.adaptiveScore!;
}

/** OOD when the number the threshold belongs to is below it. */
function isOod(scores: { score: number; logitScore: number; adaptiveScore: number | null }, threshold: Threshold) {
  return scoreIn(scores, threshold.space) < threshold.value;
}

/**
 * Where a taxonomy's memory is frozen, under which policy (the one stored with the freeze; the
 * service's for freezes older than that column), or null when it follows the history.
 */
function frozenSnapshot(
  taxonomy: { memoryFrozenSnapshot: bigint | null; memoryFrozenPolicy: unknown },
  policy: MemoryPolicy,
): MemoryFreeze {
  if (taxonomy.memoryFrozenSnapshot === null) return null;
  const stored = taxonomy.memoryFrozenPolicy as MemoryPolicy | null;
  return { snapshotId: Number(taxonomy.memoryFrozenSnapshot), policy: stored ?? policy };
}

/** The adaptive memory a prepared bank has: the history of its version, negative set and model. */
function memoryKey({ version, loaded }: Prepared): MemoryKey {
  return { versionId: version.id, setId: loaded.setId, modelId: version.modelId, dim: loaded.dim };
}

/** The memory a result met, as the API reports it (nulls outside adaptive mode). */
function memoryFields(memory: { snapshotId: string; size: number } | null) {
  return { memorySnapshotId: memory?.snapshotId ?? null, memorySize: memory?.size ?? null };
}

/** The space a calibration works in: ADAPTIVE_SCORE with `adaptive`, else the one asked for (SCORE). */
function adaptiveSpace(adaptive: boolean | null | undefined, space: ThresholdSpace | null | undefined): ThresholdSpace {
  if (adaptive && space != null && space !== 'ADAPTIVE_SCORE')
    throw new InvalidInputError(
      `adaptive calibrates the adaptive score: leave space out (or ADAPTIVE_SCORE), not ${space}.`,
      { field: 'space' },
      'INVALID_PARAMETER',
    );
  return adaptive ? 'ADAPTIVE_SCORE' : (space ?? 'SCORE');
}

/** Who sends a scoring request: the name the history records, and the key it authenticated with. */
export interface ScoringCaller {
  name: string;
  /** the API key's id; null for the anonymous caller of open mode */
  keyId: string | null;
}

/**
 * An idempotency key as this request claims it: owned by the API key (by id: names are not
 * unique), with a fingerprint of everything that shapes the answer. An image that could not be
 * read counts by its code, so a retry of the same request matches; a batch scored image by image
 * never shares a key with an all-or-nothing request.
 */
function idempotencyClaim(
  caller: ScoringCaller,
  key: string,
  input: ScoreImagesInput,
  topK: number,
  images: ReadonlyArray<DecodedImage | DomainError>,
  mode: ScoringMode,
): IdempotencyClaim {
  const asked = {
    taxonomyId: input.taxonomyId,
    version: input.version ?? null,
    images: images.map((i) => (i instanceof DomainError ? [i.code] : [i.sha256, i.filename, i.alpha, i.url])),
    threshold: input.threshold ?? null,
    thresholdSpace: input.thresholdSpace ?? null,
    topK,
    adaptive: input.adaptive ?? false,
    ...(mode === 'each' ? { eachImage: true } : {}),
  };
  const fingerprint = createHash('sha256').update(JSON.stringify(asked)).digest('hex');
  return { principal: caller.keyId ?? 'open', key, fingerprint };
}

function validateIdempotencyKey(key: string): string {
  if (key.length < 1 || key.length > 200 || unreadableCharacters(key, 'identifier')) {
    throw new InvalidInputError(
      'idempotencyKey must be 1 to 200 printable characters, none of them invisible (for example a UUID).',
      { field: 'idempotencyKey' },
      'INVALID_PARAMETER',
    );
  }
  return key;
}

/** 'whole': any image's error fails the request (scoreImages); 'each': it is that image's answer (scoreImageBatch). */
type ScoringMode = 'whole' | 'each';

/** topK and adaptive, checked. */
function scoringOptions(input: ScoreImagesInput): { topK: number; adaptive: boolean } {
  const topK = input.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1 || topK > 50)
    throw new InvalidInputError('topK must be an integer from 1 to 50.', { field: 'topK' }, 'INVALID_PARAMETER');
  const adaptive = input.adaptive ?? false;
  if (!adaptive && input.thresholdSpace === 'ADAPTIVE_SCORE')
    throw new InvalidInputError(
      'thresholdSpace ADAPTIVE_SCORE needs adaptive: true (only adaptive requests have an adaptive score).',
      { field: 'thresholdSpace' },
      'INVALID_PARAMETER',
    );
  return { topK, adaptive };
}

/**
 * The thresholds of a request. The record's decision is always the taxonomy's (`shared`:
 * dashboards count it): in adaptive mode its adaptive threshold once calibrated, else its static
 * one. A caller's own threshold (`requested`) decides its answer and is recorded beside it (in
 * adaptive mode on the adaptive score by default).
 */
function thresholdsOf(
  input: ScoreImagesInput,
  taxonomy: TaxonomyRow,
  adaptive: boolean,
): { shared: Threshold; requested: Threshold | null } {
  const shared: Threshold =
    adaptive && taxonomy.adaptiveThreshold !== null
      ? { value: taxonomy.adaptiveThreshold, space: 'ADAPTIVE_SCORE' }
      : { value: taxonomy.defaultThreshold, space: taxonomy.thresholdSpace as ThresholdSpace };
  const requested: Threshold | null =
    input.threshold == null && input.thresholdSpace == null
      ? null
      : {
          value: input.threshold ?? shared.value,
          space: input.thresholdSpace ?? (adaptive ? 'ADAPTIVE_SCORE' : shared.space),
        };
  if (requested && !Number.isFinite(requested.value))
    throw new InvalidInputError('threshold must be a finite number.', { field: 'threshold' }, 'INVALID_PARAMETER');
  return { shared, requested };
}

/** A scored image as the API answers it, before its record id is known. */
function describe(
  r: AdaptiveResult,
  loaded: LoadedBank,
  index: number,
  image: Pick<DecodedImage, 'filename' | 'sha256'>,
  threshold: Threshold,
  memory: { snapshotId: string; size: number } | null,
) {
  return {
    index,
    filename: image.filename,
    score: r.score,
    logitScore: r.logitScore,
    adaptiveScore: r.adaptiveScore,
    ...memoryFields(memory),
    isOOD: isOod(r, threshold),
    threshold: threshold.value,
    thresholdSpace: threshold.space,
    logitScale: loaded.logitScale,
    predictedLabel: loaded.idLabels[r.predictedIndex],
    topLabels: r.topLabels.map((m) => ({ label: loaded.idLabels[m.index], similarity: m.similarity })),
    topNegatives: r.topNegatives.map((m): NewScoringRecord['topNegatives'][number] => ({
      label: loaded.negativeLabels[m.index],
      prompt: loaded.negativePrompts[m.index],
      similarity: m.similarity,
    })),
    imageHash: image.sha256,
  };
}

/** A scored and recorded image, as scoreImages answers it. */
export type ImageAnswer = ReturnType<typeof describe> & { recordId: string };

/**
 * An image's error as its answer in a batch scored image by image, under the filename sent with it
 * (or the upload's, which a failed read reports in its details).
 */
function failureOf(error: DomainError, index: number, filename: string | null | undefined): ImageFailure {
  const uploaded = typeof error.details?.filename === 'string' ? error.details.filename : null;
  return { index, filename: cleanFilename(filename ?? uploaded), code: error.code, message: error.message };
}

/** Answers and failures in the order of the request's images. */
function inOrder<T extends { index: number }>(...lists: T[][]): T[] {
  return lists.flat().sort((a, b) => a.index - b.index);
}

/** A decision just written to the history, as the service tells its listeners (the metrics). */
export interface RecordedDecision {
  taxonomy: string;
  isOod: boolean;
  score: number;
}

export class ScoringService {
  /** Banks kept as heads by the encoder; the least recently used is released beyond 8. */
  private readonly banks: LruCache<string, Promise<LoadedBank>>;
  private readonly listeners: Array<(decisions: readonly RecordedDecision[]) => void> = [];

  constructor(
    private readonly taxonomies: TaxonomyService,
    private readonly embeddings: EmbeddingService,
    private readonly sets: NegativeSetRepository,
    private readonly records: ScoringRecordRepository,
    private readonly encoder: Encoder,
    private readonly memories: AdaptiveMemories,
  ) {
    this.banks = new LruCache(8, (key) => encoder.dropHead(key));
  }

  private async bankFor(version: TaxonomyVersionHead): Promise<LoadedBank> {
    const setId = version.activeNegativeSetId;
    if (!setId) {
      throw new ConflictError(
        'NO_ACTIVE_NEGATIVE_SET',
        `Taxonomy version ${version.version} has no negative label set yet: run startMining for it and wait for ` +
          `the job to succeed.`,
        { taxonomyVersionId: version.id },
      );
    }
    const key = `${version.id}:${setId}`;
    let bank = this.banks.get(key);
    if (!bank) {
      bank = (async () => {
        // the labels are read once, here: a version's labels never change
        const full = (await this.taxonomies.versionById(version.id))!;
        const negatives = await this.sets.loadBank(setId);
        // a set mined with its own ID-label embeddings (CSP's ensemble) scores with them
        const dim = negatives.embeddings[0].length;
        const idEmbeddings = negatives.idLabelEmbeddings ?? stack(await this.taxonomies.labelEmbeddings(full), dim);
        const set = await this.sets.find(setId);
        const bank: LabelBank = {
          dim,
          idEmbeddings,
          negativeEmbeddings: stack(negatives.embeddings, dim),
          negativeGroups: negatives.groups,
          groupCount: set!.groupCount,
          logitScale: version.logitScale,
        };
        await this.encoder.loadHead(key, bank);
        return {
          key,
          dim,
          setId,
          idLabels: full.labels,
          negativeLabels: negatives.words,
          negativePrompts: negatives.prompts,
          logitScale: version.logitScale,
        };
      })();
      bank.catch(() => this.banks.delete(key));
      this.banks.set(key, bank);
    }
    return bank;
  }

  /** The taxonomy, its version and the version's loaded bank; embedding and scoring follow. */
  private async prepare(taxonomyId: string, versionNumber: number | null | undefined): Promise<Prepared> {
    const { taxonomy, version } = await this.taxonomies.withVersionHead(taxonomyId, versionNumber);
    return { taxonomy, version, loaded: await this.bankFor(version) };
  }

  /**
   * Runs `score` with the prepared bank's head; with `adaptive`, the head carries the memory of the
   * bank's history, and the answer says which snapshot and how many records it held.
   */
  private async withHead<T>(
    prepared: Prepared,
    topK: number,
    adaptive: boolean,
    score: (head: ScoringHead) => Promise<T[]>,
  ): Promise<{ scored: T[]; memory: { snapshotId: string; size: number } | null }> {
    const snapshot = adaptive
      ? await this.memories.snapshot(memoryKey(prepared), frozenSnapshot(prepared.taxonomy, this.memories.policy))
      : null;
    try {
      const scored = await score({ key: prepared.loaded.key, topK, memory: snapshot?.rows });
      return { scored, memory: snapshot && { snapshotId: snapshot.snapshotId, size: snapshot.size } };
    } finally {
      snapshot?.release();
    }
  }

  /** Reads, embeds and scores images against the version's active set; nothing is recorded. */
  private async readAndScore(
    prepared: Prepared,
    images: readonly ImageInput[],
    field: string,
    cacheScope: string,
    head: ScoringHead,
  ): Promise<ScoredImage[]> {
    const decoded = await this.embeddings.readImages(images, field);
    return allOrThrow(await this.embeddings.embedAndScore(prepared.version.modelId, decoded, cacheScope, head, field));
  }

  /** Scores a request's images and records each; any image's error fails the request, and nothing is recorded. */
  async score(input: ScoreImagesInput, caller: ScoringCaller): Promise<ImageAnswer[]> {
    return (await this.scoreRequest(input, caller, 'whole')) as ImageAnswer[];
  }

  /**
   * Scores and records each image that can be: an image's own error (its bytes, upload or URL:
   * isImageFault) is its answer and the others are scored; an error of the request fails it whole.
   */
  scoreEach(input: ScoreImagesInput, caller: ScoringCaller): Promise<Array<ImageAnswer | ImageFailure>> {
    return this.scoreRequest(input, caller, 'each');
  }

  /** validate → taxonomy → read → (replay) → one embed-and-score → describe → insert. */
  private async scoreRequest(
    input: ScoreImagesInput,
    caller: ScoringCaller,
    mode: ScoringMode,
  ): Promise<Array<ImageAnswer | ImageFailure>> {
    const started = performance.now();
    const { topK, adaptive } = scoringOptions(input);
    const { taxonomy, version } = await this.taxonomies.withVersionHead(input.taxonomyId, input.version);
    const { shared, requested } = thresholdsOf(input, taxonomy, adaptive);
    const key = input.idempotencyKey == null ? null : validateIdempotencyKey(input.idempotencyKey);
    // the bytes are read (within the request's budget) before the key is looked up: what the
    // request asks is part of the key's identity, so a reused key with other images is refused
    const read = await this.embeddings.readEachImage(input.images);
    if (mode === 'whole') allOrThrow(read);
    const idempotency = key === null ? undefined : idempotencyClaim(caller, key, input, topK, read, mode);
    if (idempotency) {
      const earlier = await this.records.idempotentRequest(idempotency.principal, idempotency.key);
      if (earlier) return this.replay(earlier, idempotency);
    }
    const readable = read.flatMap((r, index) => (r instanceof DomainError ? [] : [{ index, image: r }]));
    const loaded = await this.bankFor(version);
    const { scored: outcomes, memory } = await this.withHead({ taxonomy, version, loaded }, topK, adaptive, (head) =>
      this.embeddings.embedAndScore(
        version.modelId,
        readable.map((r) => r.image),
        imageCacheScope(caller.keyId),
        head,
        'images',
        readable.map((r) => r.index),
      ),
    );
    // an image's error stays its answer in mode 'each'; any other error fails the request
    const failures = read.flatMap((r, index) =>
      r instanceof DomainError ? [failureOf(r, index, input.images[index].filename)] : [],
    );
    for (const [i, outcome] of outcomes.entries()) {
      if (!(outcome instanceof DomainError)) continue;
      if (mode === 'whole' || !isImageFault(outcome)) throw outcome;
      failures.push(failureOf(outcome, readable[i].index, readable[i].image.filename));
    }
    const scored = readable.flatMap(({ index, image }, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof DomainError) return [];
      const answer = describe(adaptiveResult(outcome), loaded, index, image, requested ?? shared, memory);
      return [{ answer, image, embedding: outcome.embedding }];
    });
    if (scored.length === 0) return failures; // every image failed: nothing to record
    const thumbnails = taxonomy.storeThumbnails
      ? await Promise.all(scored.map((s) => thumbnailOf(s.image.bytes)))
      : null;
    const latencyMs = (performance.now() - started) / scored.length;
    const rows = scored.map(({ answer: s, image, embedding }, i) => ({
      caller: caller.name,
      taxonomyId: taxonomy.id,
      taxonomyVersionId: version.id,
      negativeSetId: loaded.setId,
      modelId: version.modelId,
      threshold: shared.value,
      thresholdSpace: shared.space,
      isOod: isOod(s, shared),
      requested: requested && { threshold: requested.value, thresholdSpace: requested.space, isOod: s.isOOD },
      imageHash: s.imageHash,
      filename: s.filename,
      sourceUrl: image.url,
      thumbnail: thumbnails?.[i] ?? null,
      imageEmbedding: embedding,
      score: s.score,
      logitScore: s.logitScore,
      predictedLabel: s.predictedLabel,
      topLabels: s.topLabels,
      topNegatives: s.topNegatives,
      latencyMs,
      adaptive: memory && {
        adaptiveScore: s.adaptiveScore!,
        memorySnapshotId: memory.snapshotId,
        memorySize: memory.size,
      },
    }));
    const ids = await this.records.insertMany(rows, idempotency && { ...idempotency, failures });
    if ('earlier' in ids) return this.replay(ids.earlier, idempotency!);
    const decisions = rows.map((row) => ({ taxonomy: taxonomy.name, isOod: row.isOod, score: row.score }));
    for (const listener of this.listeners) listener(decisions);
    return inOrder<ImageAnswer | ImageFailure>(
      scored.map((s, i) => ({ ...s.answer, recordId: ids[i] })),
      failures,
    );
  }

  /** Calls `listener` with the decisions of every request once its records are written (replays not). */
  onRecorded(listener: (decisions: readonly RecordedDecision[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The results of an earlier request with the same idempotency key, rebuilt from its records; a
   * key reused for another request is refused (its first answer belongs to that request).
   */
  private async replay(
    earlier: IdempotentRequest,
    claim: IdempotencyClaim,
  ): Promise<Array<ImageAnswer | ImageFailure>> {
    if (earlier.fingerprint !== claim.fingerprint)
      throw new InvalidInputError(
        `idempotencyKey ${JSON.stringify(claim.key)} was used in the last ${this.records.idempotencyWindowHours} h ` +
          'for a different request (other images, taxonomy or options): use a new key for a new request.',
        { field: 'idempotencyKey', windowHours: this.records.idempotencyWindowHours },
        'IDEMPOTENCY_KEY_REUSED',
      );
    const rows = await this.records.findMany(earlier.recordIds);
    const version = rows.length ? await this.taxonomies.versionById(rows[0].taxonomyVersionId) : null;
    // the records fill, in order, the places the failed images left
    const failedAt = new Set(earlier.failures.map((f) => f.index));
    const places = Array.from({ length: rows.length + failedAt.size }, (_, i) => i).filter((i) => !failedAt.has(i));
    const answers = rows.map((row, i) => ({
      index: places[i],
      filename: row.filename,
      score: row.score,
      logitScore: row.logitScore,
      isOOD: row.requested?.isOod ?? row.isOod,
      threshold: row.requested?.threshold ?? row.threshold,
      thresholdSpace: row.requested?.thresholdSpace ?? row.thresholdSpace,
      logitScale: version!.logitScale,
      predictedLabel: row.predictedLabel,
      topLabels: row.topLabels,
      topNegatives: row.topNegatives,
      imageHash: row.imageHash,
      recordId: row.id,
      adaptiveScore: row.adaptive?.adaptiveScore ?? null,
      ...memoryFields(row.adaptive && { snapshotId: row.adaptive.memorySnapshotId, size: row.adaptive.memorySize }),
    }));
    return inOrder<ImageAnswer | ImageFailure>(answers, earlier.failures);
  }

  async calibrate(
    input: {
      taxonomyId: string;
      version?: number | null;
      images: ImageInput[];
      targetTpr?: number | null;
      apply?: boolean | null;
      space?: ThresholdSpace | null;
      adaptive?: boolean | null;
    },
    cacheScope: string,
  ) {
    const targetTpr = input.targetTpr ?? 0.95;
    const space = adaptiveSpace(input.adaptive, input.space);
    if (!(targetTpr > 0 && targetTpr <= 1))
      throw new InvalidInputError('targetTpr must be within (0, 1].', { field: 'targetTpr' }, 'INVALID_PARAMETER');
    const prepared = await this.prepare(input.taxonomyId, input.version);
    const adaptive = space === 'ADAPTIVE_SCORE';
    const { scored, memory } = await this.withHead(prepared, 1, adaptive, (head) =>
      this.readAndScore(prepared, input.images, 'images', cacheScope, head),
    );
    const results = scored.map(adaptiveResult);
    const { threshold, achievedTpr } = calibrateThreshold(
      results.map((r) => scoreIn(r, space)),
      targetTpr,
    );
    if (input.apply) await this.taxonomies.setThreshold(input.taxonomyId, threshold, space);
    return {
      threshold,
      space,
      targetTpr,
      achievedTpr,
      imageCount: results.length,
      applied: Boolean(input.apply),
      ...memoryFields(memory),
    };
  }

  async evaluate(
    input: {
      taxonomyId: string;
      version?: number | null;
      idImages: ImageInput[];
      oodImages: ImageInput[];
      adaptive?: boolean | null;
    },
    cacheScope: string,
  ) {
    const prepared = await this.prepare(input.taxonomyId, input.version);
    // one snapshot for both sets: every image meets the same memory
    const { scored, memory } = await this.withHead(prepared, 1, Boolean(input.adaptive), async (head) => {
      const id = await this.readAndScore(prepared, input.idImages, 'idImages', cacheScope, head);
      const ood = await this.readAndScore(prepared, input.oodImages, 'oodImages', cacheScope, head);
      return [...id, ...ood];
    });
    const scores = scored.map((s) => {
      const r = adaptiveResult(s);
      return input.adaptive ? r.adaptiveScore! : r.score;
    });
    const idScores = scores.slice(0, input.idImages.length);
    const oodScores = scores.slice(input.idImages.length);
    return {
      ...oodMetrics(idScores, oodScores),
      idScores,
      oodScores,
      adaptive: Boolean(input.adaptive),
      ...memoryFields(memory),
    };
  }

  /** The memory an adaptive request against the version would meet now, with its policy. */
  async memory(taxonomyId: string, versionNumber: number | null | undefined) {
    const prepared = await this.prepare(taxonomyId, versionNumber);
    const freeze = frozenSnapshot(prepared.taxonomy, this.memories.policy);
    const description = await this.memories.describe(memoryKey(prepared), freeze);
    return { ...description, ...(freeze?.policy ?? this.memories.policy) };
  }

  /** Freezes a taxonomy's memory at a snapshot: the latest record (now), or an earlier one (a rollback). */
  async freezeMemory(taxonomyId: string, snapshotId: string | null) {
    await this.taxonomies.require(taxonomyId);
    const latest = await this.records.latestId();
    if (snapshotId !== null && !(/^\d{1,15}$/.test(snapshotId) && Number(snapshotId) <= latest)) {
      throw new InvalidInputError(
        `snapshotId must be a memorySnapshotId (a record id) from 0 to the latest record, ${latest}.`,
        { field: 'snapshotId' },
        'INVALID_PARAMETER',
      );
    }
    return this.taxonomies.setMemoryFrozenSnapshot(taxonomyId, BigInt(snapshotId ?? latest), this.memories.policy);
  }

  async unfreezeMemory(taxonomyId: string) {
    await this.taxonomies.require(taxonomyId);
    return this.taxonomies.setMemoryFrozenSnapshot(taxonomyId, null, null);
  }

  /** Nearest past scored images to an image or a text, by cosine in the model's space. */
  async similar(
    input: {
      image?: ImageInput | null;
      text?: string | null;
      model?: string | null;
      taxonomyId?: string | null;
      first: number;
    },
    cacheScope: string,
  ) {
    if ((input.image ? 1 : 0) + (input.text != null ? 1 : 0) !== 1) {
      throw new InvalidInputError('give exactly one of image or text.', { field: 'image' }, 'INVALID_PARAMETER');
    }
    if (!Number.isInteger(input.first) || input.first < 1 || input.first > 100)
      throw new InvalidInputError('first must be from 1 to 100.', { field: 'first' });
    const model = this.encoder.resolveModel(input.model);
    const query = input.image
      ? (await this.embeddings.embedImageInputs(model.id, [input.image], cacheScope, 'image')).embeddings[0]
      : (await this.embeddings.embedTexts(model.id, [input.text!])).vectors[0];
    return this.records.nearest(model.id, model.embeddingDim!, query, input.first, input.taxonomyId ?? null);
  }
}
