/** Mining use cases: validate parameters, reuse an identical finished set, or queue a job. */
import { createHash } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import type { PartOfSpeech } from '../neglabel/corpus.ts';
import { CSP_LABEL_TEMPLATES, CSP_PHRASE_TEMPLATES } from '../neglabel/csp.ts';
import type { MiningRecipe } from '../neglabel/mining-pipeline.ts';
import { DEFAULT_ADJECTIVE_PROMPT } from '../neglabel/prompts.ts';
import type { MiningJobRepository } from '../repositories/mining-job-repository.ts';
import type { LabelFilter, LabelOrder, NegativeSetRepository } from '../repositories/negative-set-repository.ts';
import { customCorpus, WORDNET_CORPUS } from './corpus-source.ts';
import { connection, decodeIdCursor, validateFirst } from './pagination.ts';
import { validatePromptTemplate, type TaxonomyService } from './taxonomy-service.ts';
import { FOLLOW_POLL_MS } from './history-service.ts';
import { isUuid } from './validation.ts';

export type MiningMethod = 'NEGLABEL' | 'CSP';

/**
 * A job's parameters: the pipeline's recipe (method, prompts, selection, grouping) and the corpus.
 * An option added later is absent rather than false or empty when unused (method for NegLabel,
 * nounPromptTemplates without an ensemble), so the parameters of sets mined before it keep their
 * identity (their key).
 */
export interface MiningParameters extends MiningRecipe {
  count: number | null;
  /** CSP: the templates whose mean embeds each adjective phrase */
  adjectivePromptTemplates?: string[];
  corpus: string;
  /** the custom corpus itself (absent for WordNet), kept so a restarted job can run */
  corpusWords?: Array<{ text: string; pos: PartOfSpeech }>;
}

export interface StartMiningInput {
  taxonomyId: string;
  version?: number | null;
  percentile?: number | null;
  selectionRatio?: number | null;
  count?: number | null;
  groups?: number | null;
  seed?: number | null;
  excludeNearDuplicates?: boolean | null;
  nearDuplicateThreshold?: number | null;
  nounPrompt?: string | null;
  adjectivePrompt?: string | null;
  corpus?: Array<{ text: string; partOfSpeech: 'NOUN' | 'ADJECTIVE' }> | null;
  force?: boolean | null;
  nounPromptEnsemble?: boolean | null;
  method?: MiningMethod | null;
}

const MAX_CORPUS = 500_000;

function check(condition: boolean, field: string, message: string): void {
  if (!condition) throw new InvalidInputError(`${field} ${message}`, { field }, 'INVALID_PARAMETER');
}

/**
 * The parameters a start asks for, with the reference defaults filled in and every value checked
 * (INVALID_PARAMETER naming the field). The evaluation mines with the same defaults.
 */
export function miningParameters(
  input: Omit<StartMiningInput, 'taxonomyId' | 'version' | 'force'>,
  idPrompt: string,
  idPromptTemplates: readonly string[],
): MiningParameters {
  const p: MiningParameters = {
    percentile: input.percentile ?? 0.95,
    selectionRatio: input.selectionRatio ?? 0.15,
    count: input.count ?? null,
    groups: input.groups ?? 100,
    seed: input.seed ?? 0,
    excludeNearDuplicates: input.excludeNearDuplicates ?? true,
    nearDuplicateThreshold: input.nearDuplicateThreshold ?? 0.95,
    nounPrompt: validatePromptTemplate(input.nounPrompt, 'nounPrompt', idPrompt),
    adjectivePrompt: validatePromptTemplate(input.adjectivePrompt, 'adjectivePrompt', DEFAULT_ADJECTIVE_PROMPT),
    corpus: WORDNET_CORPUS,
  };
  if (input.method === 'CSP') {
    const own = (['nounPrompt', 'adjectivePrompt', 'nounPromptEnsemble'] as const).find((f) => input[f] != null);
    check(
      own === undefined,
      own ?? 'method',
      "cannot be set with method CSP: CSP encodes with its own template ensembles (see the parameters' templates).",
    );
    check(
      input.excludeNearDuplicates !== false,
      'excludeNearDuplicates',
      'cannot be false with method CSP: CSP never selects a near duplicate of an ID label.',
    );
    p.method = 'CSP';
    p.nounPrompt = CSP_LABEL_TEMPLATES[0];
    p.nounPromptTemplates = [...CSP_LABEL_TEMPLATES];
    p.adjectivePrompt = CSP_PHRASE_TEMPLATES[0];
    p.adjectivePromptTemplates = [...CSP_PHRASE_TEMPLATES];
  }
  if (input.nounPromptEnsemble) {
    check(
      idPromptTemplates.length > 0 && input.nounPrompt == null,
      'nounPromptEnsemble',
      input.nounPrompt == null
        ? 'needs a taxonomy version with a template ensemble (promptTemplates): create a version with ' +
            'promptTemplates, or mine with one nounPrompt.'
        : "and nounPrompt exclude each other: the ensemble is the taxonomy's promptTemplates.",
    );
    p.nounPromptTemplates = [...idPromptTemplates];
  }
  check(
    Number.isFinite(p.percentile) && p.percentile >= 0 && p.percentile <= 1,
    'percentile',
    'must be within [0, 1] (0.95 is the reference).',
  );
  check(
    Number.isFinite(p.selectionRatio) && p.selectionRatio > 0 && p.selectionRatio <= 1,
    'selectionRatio',
    'must be within (0, 1] (0.15 is the reference).',
  );
  check(p.count === null || (Number.isInteger(p.count) && p.count >= 1), 'count', 'must be a positive integer.');
  check(
    Number.isInteger(p.groups) && p.groups >= 1 && p.groups <= 10_000,
    'groups',
    'must be an integer from 1 to 10000 (100 is the reference).',
  );
  check(
    p.count === null || p.groups <= p.count,
    'groups',
    `(${p.groups}) cannot exceed count (${p.count}): each group needs at least one negative.`,
  );
  check(
    Number.isInteger(p.seed) && p.seed >= 0 && p.seed <= 0xffffffff,
    'seed',
    'must be an integer from 0 to 4294967295.',
  );
  check(
    Number.isFinite(p.nearDuplicateThreshold) && p.nearDuplicateThreshold > -1 && p.nearDuplicateThreshold <= 1,
    'nearDuplicateThreshold',
    'must be within (-1, 1].',
  );
  if (input.corpus) {
    check(
      input.corpus.length > 0 && input.corpus.length <= MAX_CORPUS,
      'corpus',
      `must have 1 to ${MAX_CORPUS} words, or be omitted for WordNet.`,
    );
    const custom = customCorpus(
      input.corpus.map((w) => ({ text: w.text, partOfSpeech: w.partOfSpeech === 'NOUN' ? 'noun' : 'adjective' })),
    );
    check(custom.words.length > 0, 'corpus', 'has no usable word after cleaning.');
    p.corpus = custom.name;
    p.corpusWords = custom.words;
  }
  return p;
}

export class MiningService {
  constructor(
    private readonly taxonomies: TaxonomyService,
    private readonly jobs: MiningJobRepository,
    private readonly sets: NegativeSetRepository,
    private readonly onQueued: () => void,
  ) {}

  async start(input: StartMiningInput, caller: string) {
    const version = await this.taxonomies.version(input.taxonomyId, input.version);
    const parameters = miningParameters(input, version.promptTemplate, version.promptTemplates);
    const { corpusWords, ...identity } = parameters;
    const parametersKey = createHash('sha256')
      .update(JSON.stringify({ ...identity, model: version.modelId }))
      .digest('hex');
    if (!input.force) {
      const existing = await this.sets.findReusable(version.id, parametersKey);
      if (existing) {
        await this.sets.activate(version.id, existing.id);
        return this.jobs.create({
          taxonomyVersionId: version.id,
          modelId: version.modelId,
          parameters: identity,
          parametersKey,
          createdBy: caller,
          status: 'SUCCEEDED',
          negativeSetId: existing.id,
        });
      }
      const running = await this.jobs.findActive(version.id, parametersKey);
      if (running) return running;
    }
    const job = await this.jobs.create({
      taxonomyVersionId: version.id,
      modelId: version.modelId,
      parameters,
      parametersKey,
      createdBy: caller,
    });
    this.onQueued();
    return job;
  }

  async job(id: string) {
    return isUuid(id) ? this.jobs.find(id) : null;
  }

  /**
   * A job's state now, then each change of status, phase or progress until it ends; null when no
   * job has the id. Polled, as any process may be running it.
   */
  async follow(id: string, pollMs = FOLLOW_POLL_MS) {
    const first = await this.job(id);
    if (!first) return null;
    const jobs = this.jobs;
    return (async function* () {
      const state = (j: typeof first) => `${j.status}|${j.phase}|${j.done}|${j.total}|${j.error}`;
      let job = first;
      yield job;
      while (!['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) {
        await new Promise((resolve) => setTimeout(resolve, pollMs));
        const next = await jobs.find(id);
        if (!next) return;
        if (state(next) !== state(job)) yield next;
        job = next;
      }
    })();
  }

  async cancel(id: string) {
    const job = await this.job(id);
    if (!job) throw new NotFoundError('Mining job', id);
    return (await this.jobs.requestCancel(id)) ?? job;
  }

  jobsForVersion(versionId: string) {
    return this.jobs.forVersion(versionId);
  }

  async negativeSet(id: string) {
    return isUuid(id) ? this.sets.find(id) : null;
  }

  async labels(setId: string, first: number, after: string | null, filter: LabelFilter, order: LabelOrder = 'RANK') {
    validateFirst(first, 1000);
    const cursor = decodeIdCursor(after, 'labels');
    if (filter.search !== null && (filter.search.length === 0 || filter.search.length > 100))
      throw new InvalidInputError('search must be 1 to 100 characters.', { field: 'search' }, 'INVALID_PARAMETER');
    const page = await this.sets.labelsPage(setId, first, cursor === null ? -1 : Number(cursor), filter, order);
    return {
      ...connection(page.rows, page.hasNextPage, (node) => String(node.rank), cursor),
      totalCount: page.totalCount,
    };
  }
}
