/** Taxonomy use cases: validated creation of taxonomies and versions, lookups, label embeddings. */
import type { ThresholdSpace } from '../domain/scoring-record.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import type { Encoder } from '../inference/encoder.ts';
import { Prisma } from '../generated/prisma/client.ts';
import type { MemoryPolicy } from '../neglabel/memory.ts';
import { applyPrompt, DEFAULT_ID_PROMPT, ensembleEmbedding, promptTemplateProblem } from '../neglabel/prompts.ts';
import { REFERENCE_LOGIT_SCALE } from '../neglabel/scoring.ts';
import type { TaxonomyRepository, TaxonomyVersionRow } from '../repositories/taxonomy-repository.ts';
import { connection, decodeCursor, validateFirst } from './pagination.ts';
import { isUuid, unreadableCharacters, validateName } from './validation.ts';

export const MAX_LABELS = 100_000;
const MAX_LABEL_LENGTH = 300;

/** Trimmed, validated labels; refuses empty lists, blank, over-long, control-character and duplicate labels. */
export function validateLabels(labels: readonly string[]): string[] {
  if (labels.length === 0)
    throw new InvalidInputError(
      'labels is empty: a taxonomy needs at least one class name.',
      { field: 'labels' },
      'EMPTY_LABELS',
    );
  if (labels.length > MAX_LABELS)
    throw new InvalidInputError(
      `labels has ${labels.length} entries, over the limit of ${MAX_LABELS}.`,
      { field: 'labels' },
      'TOO_MANY_LABELS',
    );
  const seen = new Map<string, number>();
  return labels.map((raw, index) => {
    const label = raw.normalize('NFC').trim().replace(/\s+/g, ' ');
    if (label.length === 0)
      throw new InvalidInputError(
        `labels[${index}] is blank: remove it or give the class a name.`,
        { field: 'labels', index },
        'EMPTY_LABEL',
      );
    if (label.length > MAX_LABEL_LENGTH)
      throw new InvalidInputError(
        `labels[${index}] is over ${MAX_LABEL_LENGTH} characters: class names are short phrases.`,
        { field: 'labels', index },
        'INVALID_LABEL',
      );
    const unreadable = unreadableCharacters(label, 'prose');
    if (unreadable)
      throw new InvalidInputError(
        `labels[${index}] contains ${unreadable}: remove them.`,
        { field: 'labels', index },
        'INVALID_LABEL',
      );
    const key = label.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      throw new InvalidInputError(
        `labels[${index}] (${JSON.stringify(label)}) duplicates labels[${first}]: class names must be unique ` +
          `(case-insensitive).`,
        { field: 'labels', index, duplicateOf: first },
        'DUPLICATE_LABEL',
      );
    }
    seen.set(key, index);
    return label;
  });
}

/** An ensemble of 2 to 32 valid, distinct templates, or [] for none. */
export function validatePromptTemplates(templates: readonly string[] | null | undefined, field: string): string[] {
  if (!templates || templates.length === 0) return [];
  if (templates.length > 32)
    throw new InvalidInputError(`${field}: at most 32 templates.`, { field }, 'INVALID_PROMPT_TEMPLATE');
  const valid = templates.map((t, i) => validatePromptTemplate(t, `${field}[${i}]`, t));
  if (new Set(valid).size !== valid.length)
    throw new InvalidInputError(`${field}: templates must be distinct.`, { field }, 'INVALID_PROMPT_TEMPLATE');
  return valid.length === 1 ? [] : valid;
}

export function validatePromptTemplate(template: string | null | undefined, field: string, fallback: string): string {
  const value = template ?? fallback;
  const problem = promptTemplateProblem(value);
  if (problem) throw new InvalidInputError(`${field}: ${problem}`, { field }, 'INVALID_PROMPT_TEMPLATE');
  return value;
}

/** A given logit scale, validated; null when none was given. */
const noSuchTaxonomy = (id: string) => new NotFoundError('Taxonomy', id, 'query `taxonomies` for the ids that exist');

const noSuchVersion = (taxonomyId: string, version: number | null | undefined) =>
  new NotFoundError('Taxonomy version', String(version), `taxonomy ${taxonomyId} has no such version`);

function validateLogitScale(value: number | null | undefined): number | null {
  if (value == null) return null;
  if (!(Number.isFinite(value) && value > 0 && value <= 1000)) {
    throw new InvalidInputError(
      'logitScale must be in (0, 1000]: 100 is the NegLabel reference (temperature 0.01).',
      { field: 'logitScale' },
      'INVALID_PARAMETER',
    );
  }
  return value;
}

export class TaxonomyService {
  constructor(
    private readonly repository: TaxonomyRepository,
    private readonly encoder: Encoder,
  ) {}

  async create(
    input: {
      name: string;
      labels: string[];
      promptTemplate?: string | null;
      promptTemplates?: string[] | null;
      model?: string | null;
      logitScale?: number | null;
    },
    caller: string,
  ) {
    const name = validateName(input.name, 'name', 200);
    const labels = validateLabels(input.labels);
    const promptTemplates = validatePromptTemplates(input.promptTemplates, 'promptTemplates');
    const promptTemplate = validatePromptTemplate(
      input.promptTemplate ?? input.promptTemplates?.[0],
      'promptTemplate',
      DEFAULT_ID_PROMPT,
    );
    const model = this.encoder.resolveModel(input.model);
    const logitScale = validateLogitScale(input.logitScale) ?? model.logitScale ?? REFERENCE_LOGIT_SCALE;
    return this.repository.create({
      name,
      labels,
      promptTemplate,
      promptTemplates,
      modelId: model.id,
      logitScale,
      createdBy: caller,
    });
  }

  async createVersion(
    input: {
      taxonomyId: string;
      labels?: string[] | null;
      promptTemplate?: string | null;
      promptTemplates?: string[] | null;
      model?: string | null;
      logitScale?: number | null;
    },
    caller: string,
  ) {
    const latest = await this.latestVersion(input.taxonomyId);
    const labels = input.labels ? validateLabels(input.labels) : latest.labels;
    const changesPrompt = input.promptTemplate != null || input.promptTemplates != null;
    const promptTemplates = changesPrompt
      ? validatePromptTemplates(input.promptTemplates, 'promptTemplates')
      : latest.promptTemplates;
    const promptTemplate = validatePromptTemplate(
      input.promptTemplate ?? input.promptTemplates?.[0],
      'promptTemplate',
      latest.promptTemplate,
    );
    const model = input.model ? this.encoder.resolveModel(input.model) : null;
    const modelId = model?.id ?? latest.modelId;
    // a new model brings its own trained scale; otherwise the version keeps the latest's
    const logitScale =
      validateLogitScale(input.logitScale) ??
      (model && model.id !== latest.modelId ? (model.logitScale ?? REFERENCE_LOGIT_SCALE) : latest.logitScale);
    return this.repository.createVersion(input.taxonomyId, {
      labels,
      promptTemplate,
      promptTemplates,
      modelId,
      logitScale,
      createdBy: caller,
    });
  }

  async get(id: string) {
    return isUuid(id) ? this.repository.find(id) : null;
  }

  async require(id: string) {
    const taxonomy = await this.get(id);
    if (!taxonomy) throw noSuchTaxonomy(id);
    return taxonomy;
  }

  async latestVersion(taxonomyId: string): Promise<TaxonomyVersionRow> {
    await this.require(taxonomyId);
    return (await this.repository.latestVersion(taxonomyId))!;
  }

  /** The given version number, or the latest. */
  async version(taxonomyId: string, version?: number | null): Promise<TaxonomyVersionRow> {
    await this.require(taxonomyId);
    const row =
      version == null
        ? await this.repository.latestVersion(taxonomyId)
        : await this.repository.version(taxonomyId, version);
    if (!row) throw noSuchVersion(taxonomyId, version);
    return row;
  }

  /**
   * The taxonomy and the head of its given version (or the latest), without the version's labels,
   * in one statement: what scoring reads on every request.
   */
  async withVersionHead(taxonomyId: string, version?: number | null) {
    const found = isUuid(taxonomyId) ? await this.repository.withVersionHead(taxonomyId, version ?? null) : null;
    if (!found) throw noSuchTaxonomy(taxonomyId);
    if (!found.version) throw noSuchVersion(taxonomyId, version);
    return { taxonomy: found.taxonomy, version: found.version };
  }

  /** A page of taxonomies, newest first; `only` limits it to those ids (a scoped key's). */
  async page(first: number, after: string | null, only: string[] | null = null) {
    validateFirst(first, 500);
    const afterId = decodeCursor(after);
    const cursor = afterId && isUuid(afterId) ? afterId : null;
    const page = await this.repository.page(first, cursor, only);
    return { ...connection(page.rows, page.hasNextPage, (node) => node.id, cursor), totalCount: page.totalCount };
  }

  versions(taxonomyId: string) {
    return this.repository.versions(taxonomyId);
  }

  versionById(id: string) {
    return this.repository.versionById(id);
  }

  /** The version a job or a negative set belongs to (a foreign key keeps it). */
  async referencedVersion(id: string) {
    const version = await this.repository.versionById(id);
    if (!version) throw new Error(`taxonomy version ${id} is referenced but missing`);
    return version;
  }

  /** Sets the threshold of a space: the default (static or logit) or the adaptive one. */
  setThreshold(taxonomyId: string, threshold: number, space: ThresholdSpace) {
    return this.repository.updateSettings(
      taxonomyId,
      space === 'ADAPTIVE_SCORE'
        ? { adaptiveThreshold: threshold }
        : { defaultThreshold: threshold, thresholdSpace: space },
    );
  }

  /** Whether scoring keeps a thumbnail of each image, and for how many days (1 to 3650). */
  async setThumbnailPolicy(taxonomyId: string, storeThumbnails: boolean, retentionDays?: number | null) {
    const taxonomy = await this.require(taxonomyId);
    const days = retentionDays ?? taxonomy.thumbnailRetentionDays;
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw new InvalidInputError(
        'retentionDays must be an integer from 1 to 3650.',
        { field: 'retentionDays' },
        'INVALID_PARAMETER',
      );
    return this.repository.updateSettings(taxonomyId, { storeThumbnails, thumbnailRetentionDays: days });
  }

  /**
   * Freezes the adaptive memory at a snapshot (a record id) under a policy, or lets it follow the
   * history (null).
   */
  setMemoryFrozenSnapshot(taxonomyId: string, snapshot: bigint | null, policy: MemoryPolicy | null) {
    return this.repository.updateSettings(taxonomyId, {
      memoryFrozenSnapshot: snapshot,
      memoryFrozenPolicy: policy ? { ...policy } : Prisma.DbNull,
    });
  }

  /** The version's prompted label embeddings for its model, encoded once and stored. */
  async labelEmbeddings(version: TaxonomyVersionRow): Promise<Float32Array[]> {
    const stored = await this.repository.labelEmbeddings(version.id, version.modelId, version.labels.length);
    if (stored) return stored;
    const templates = version.promptTemplates.length > 0 ? version.promptTemplates : [version.promptTemplate];
    const prompts = templates.flatMap((template) => version.labels.map((label) => applyPrompt(template, label)));
    const encoded = (await this.encoder.embedTextsBulk(version.modelId, prompts)).vectors;
    const count = version.labels.length;
    const embeddings = version.labels.map((_, i) =>
      templates.length === 1 ? encoded[i] : ensembleEmbedding(templates.map((_, t) => encoded[t * count + i])),
    );
    const described = version.labels.map(
      (label) =>
        applyPrompt(templates[0], label) + (templates.length > 1 ? ` (+${templates.length - 1} templates)` : ''),
    );
    await this.repository.saveLabelEmbeddings(version.id, version.modelId, described, embeddings);
    return embeddings;
  }
}
