/**
 * Scoring use cases: score images against a taxonomy version's active negative set and record
 * each in the history; calibrate a threshold; evaluate OOD metrics. A label bank is loaded once
 * per negative set into the scoring runtime (src/scoring/), which computes the scores off the
 * request thread.
 */
import { ConflictError, InvalidInputError } from '../errors.ts';
import type { Encoder } from '../inference/encoder.ts';
import type { ScoringRuntime } from '../scoring/scoring-runtime.ts';
import { LruCache } from '../inference/lru-cache.ts';
import { calibrateThreshold, oodMetrics } from '../neglabel/metrics.ts';
import type { ImageScoreResult, LabelBank } from '../neglabel/scoring.ts';
import type { NegativeSetRepository } from '../repositories/negative-set-repository.ts';
import type { ScoringRecordRepository } from '../repositories/scoring-record-repository.ts';
import type { TaxonomyVersionRow } from '../repositories/taxonomy-repository.ts';
import { stack } from '../inference/vectors.ts';
import type { EmbeddingService } from './embedding-service.ts';
import type { ImageInput } from './images.ts';
import type { TaxonomyService, ThresholdSpace } from './taxonomy-service.ts';
import { hasControlCharacters } from './validation.ts';

interface LoadedBank {
  /** the bank's key in the encoder workers */
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
  /** a retried request with the same key (per caller) returns the first request's results */
  idempotencyKey?: string | null;
}

interface Threshold {
  value: number;
  space: ThresholdSpace;
}

/** OOD when the number the threshold belongs to is below it. */
function isOod(scores: { score: number; logitScore: number }, threshold: Threshold): boolean {
  return (threshold.space === 'SCORE' ? scores.score : scores.logitScore) < threshold.value;
}

function validateIdempotencyKey(key: string): string {
  if (key.length < 1 || key.length > 200 || hasControlCharacters(key)) {
    throw new InvalidInputError(
      'idempotencyKey must be 1 to 200 printable characters (for example a UUID).',
      { field: 'idempotencyKey' },
      'INVALID_PARAMETER',
    );
  }
  return key;
}

export class ScoringService {
  /** Banks kept by the scoring runtime; the least recently used is released beyond 8. */
  private readonly banks: LruCache<string, Promise<LoadedBank>>;

  constructor(
    private readonly taxonomies: TaxonomyService,
    private readonly embeddings: EmbeddingService,
    private readonly sets: NegativeSetRepository,
    private readonly records: ScoringRecordRepository,
    private readonly encoder: Encoder,
    private readonly runtime: ScoringRuntime,
  ) {
    this.banks = new LruCache(8, (key) => runtime.dropBank(key));
  }

  private async bankFor(version: TaxonomyVersionRow): Promise<LoadedBank> {
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
        const negatives = await this.sets.loadBank(setId);
        // a set mined with its own ID-label embeddings (CSP's ensemble) scores with them
        const dim = negatives.embeddings[0].length;
        const idEmbeddings = negatives.idLabelEmbeddings ?? stack(await this.taxonomies.labelEmbeddings(version), dim);
        const set = await this.sets.find(setId);
        const bank: LabelBank = {
          dim,
          idEmbeddings,
          negativeEmbeddings: stack(negatives.embeddings, dim),
          negativeGroups: negatives.groups,
          groupCount: set!.groupCount,
          logitScale: version.logitScale,
        };
        await this.runtime.loadBank(key, bank);
        return {
          key,
          dim,
          setId,
          idLabels: version.labels,
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

  /** Embeds and scores images against the version's active set; nothing is recorded. */
  private async scoreOnly(
    taxonomyId: string,
    versionNumber: number | null | undefined,
    images: ImageInput[],
    topK: number,
    field = 'images',
  ) {
    const version = await this.taxonomies.version(taxonomyId, versionNumber);
    const loaded = await this.bankFor(version);
    const embedded = await this.embeddings.embedImageInputs(version.modelId, images, field);
    const results = await this.runtime.score(loaded.key, embedded.embeddings, topK);
    return { version, loaded, embedded, results };
  }

  async score(input: ScoreImagesInput, caller: string) {
    const started = performance.now();
    const topK = input.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1 || topK > 50)
      throw new InvalidInputError('topK must be an integer from 1 to 50.', { field: 'topK' }, 'INVALID_PARAMETER');
    const taxonomy = await this.taxonomies.require(input.taxonomyId);
    // the record's decision is always the taxonomy's (dashboards count it); a caller's own
    // threshold decides its answer and is recorded beside it
    const shared: Threshold = { value: taxonomy.defaultThreshold, space: taxonomy.thresholdSpace as ThresholdSpace };
    const requested: Threshold | null =
      input.threshold == null && input.thresholdSpace == null
        ? null
        : { value: input.threshold ?? shared.value, space: input.thresholdSpace ?? shared.space };
    if (requested && !Number.isFinite(requested.value))
      throw new InvalidInputError('threshold must be a finite number.', { field: 'threshold' }, 'INVALID_PARAMETER');
    const idempotency =
      input.idempotencyKey == null ? undefined : { caller, key: validateIdempotencyKey(input.idempotencyKey) };
    if (idempotency) {
      const previous = await this.records.idempotentIds(idempotency.caller, idempotency.key);
      if (previous) return this.replay(previous);
    }
    const { version, loaded, embedded, results } = await this.scoreOnly(
      input.taxonomyId,
      input.version,
      input.images,
      topK,
    );
    const latencyMs = (performance.now() - started) / results.length;
    const scored = results.map((r, index) =>
      this.describe(
        r,
        loaded,
        index,
        embedded.images[index].filename,
        requested ?? shared,
        embedded.images[index].sha256,
      ),
    );
    await this.records.ensureVectorIndex(version.modelId, loaded.dim);
    const ids = await this.records.insertMany(
      scored.map((s, i) => ({
        caller,
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
        imageEmbedding: embedded.embeddings[i],
        score: s.score,
        logitScore: s.logitScore,
        predictedLabel: s.predictedLabel,
        topLabels: s.topLabels,
        topNegatives: s.topNegatives,
        latencyMs,
      })),
      idempotency,
    );
    if ('replayOf' in ids) return this.replay(ids.replayOf);
    return scored.map((s, i) => ({ ...s, recordId: ids[i] }));
  }

  /** The results of an earlier request, rebuilt from its records. */
  private async replay(recordIds: string[]) {
    const rows = await this.records.findMany(recordIds);
    const version = rows.length ? await this.taxonomies.versionById(rows[0].taxonomyVersionId) : null;
    return rows.map((row, index) => ({
      index,
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
    }));
  }

  private describe(
    r: ImageScoreResult,
    loaded: LoadedBank,
    index: number,
    filename: string | null,
    threshold: Threshold,
    imageHash: string,
  ) {
    return {
      index,
      filename,
      score: r.score,
      logitScore: r.logitScore,
      isOOD: isOod(r, threshold),
      threshold: threshold.value,
      thresholdSpace: threshold.space,
      logitScale: loaded.logitScale,
      predictedLabel: loaded.idLabels[r.predictedIndex],
      topLabels: r.topLabels.map((m) => ({ label: loaded.idLabels[m.index], similarity: m.similarity })),
      topNegatives: r.topNegatives.map((m) => ({
        label: loaded.negativeLabels[m.index],
        prompt: loaded.negativePrompts[m.index],
        similarity: m.similarity,
      })),
      imageHash,
    };
  }

  async calibrate(input: {
    taxonomyId: string;
    version?: number | null;
    images: ImageInput[];
    targetTpr?: number | null;
    apply?: boolean | null;
    space?: ThresholdSpace | null;
  }) {
    const targetTpr = input.targetTpr ?? 0.95;
    const space = input.space ?? 'SCORE';
    if (!(targetTpr > 0 && targetTpr <= 1))
      throw new InvalidInputError('targetTpr must be within (0, 1].', { field: 'targetTpr' }, 'INVALID_PARAMETER');
    const { results } = await this.scoreOnly(input.taxonomyId, input.version, input.images, 1);
    const { threshold, achievedTpr } = calibrateThreshold(
      results.map((r) => (space === 'SCORE' ? r.score : r.logitScore)),
      targetTpr,
    );
    if (input.apply) await this.taxonomies.setDefaultThreshold(input.taxonomyId, threshold, space);
    return { threshold, space, targetTpr, achievedTpr, imageCount: results.length, applied: Boolean(input.apply) };
  }

  async evaluate(input: {
    taxonomyId: string;
    version?: number | null;
    idImages: ImageInput[];
    oodImages: ImageInput[];
  }) {
    const id = await this.scoreOnly(input.taxonomyId, input.version, input.idImages, 1, 'idImages');
    const ood = await this.scoreOnly(input.taxonomyId, input.version, input.oodImages, 1, 'oodImages');
    const idScores = id.results.map((r) => r.score);
    const oodScores = ood.results.map((r) => r.score);
    return { ...oodMetrics(idScores, oodScores), idScores, oodScores };
  }

  /** Nearest past scored images to an image or a text, by cosine in the model's space. */
  async similar(input: {
    image?: ImageInput | null;
    text?: string | null;
    model?: string | null;
    taxonomyId?: string | null;
    first: number;
  }) {
    if ((input.image ? 1 : 0) + (input.text != null ? 1 : 0) !== 1) {
      throw new InvalidInputError('give exactly one of image or text.', { field: 'image' }, 'INVALID_PARAMETER');
    }
    if (!Number.isInteger(input.first) || input.first < 1 || input.first > 100)
      throw new InvalidInputError('first must be from 1 to 100.', { field: 'first' });
    const model = this.encoder.resolveModel(input.model);
    const query = input.image
      ? (await this.embeddings.embedImageInputs(model.id, [input.image], 'image')).embeddings[0]
      : (await this.embeddings.embedTexts(model.id, [input.text!]))[0];
    return this.records.nearest(model.id, model.embeddingDim!, query, input.first, input.taxonomyId ?? null);
  }
}
