/**
 * The one mining pipeline, pure: what a method encodes (candidates and, for CSP, its own ID-label
 * prompts), how the encoded prompts become one matrix of candidate embeddings, and how a mined
 * selection becomes negative labels or a label bank. The mining job (src/jobs/mining-runner.ts)
 * runs it with the corpus cache, checkpoints and a math thread; the evaluation
 * (tools/eval/ood-benchmark.ts) runs the same steps in one go, so the published table measures
 * what the service mines.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { candidateEmbedding, negLabelCandidates, type Candidate, type PromptEmbedding } from './candidates.ts';
import type { CorpusWord, PartOfSpeech } from './corpus.ts';
import { CSP_EXCLUDED_LEXFILES, cspCandidates, cspLabelPrompts } from './csp.ts';
import type { CandidateStatistics, MinedNegativeSet, NegativeSetOptions } from './mining.ts';
import type { LabelBank } from './scoring.ts';

/** The parts of a mining job's parameters the pipeline reads (the job's parameters extend it). */
export interface MiningRecipe extends NegativeSetOptions {
  /** CSP (conjugated semantic pool); absent for NegLabel */
  method?: 'CSP';
  percentile: number;
  nounPrompt: string;
  /** nouns encoded as the mean of these templates' embeddings; absent: nounPrompt alone */
  nounPromptTemplates?: string[];
  adjectivePrompt: string;
}

/** What a method encodes for a corpus. */
export interface MiningPlan {
  candidates: Candidate[];
  /** ensembles average raw embeddings (CSP) rather than unit vectors; raw norms must be known */
  rawMean: boolean;
}

/** The WordNet lexicographer files a method leaves out of the corpus. */
export function excludedLexfiles(recipe: Pick<MiningRecipe, 'method'>): readonly string[] {
  return recipe.method === 'CSP' ? CSP_EXCLUDED_LEXFILES : [];
}

export function planMining(recipe: MiningRecipe, corpus: readonly CorpusWord[]): MiningPlan {
  if (recipe.method === 'CSP') return { candidates: cspCandidates(corpus, recipe.seed), rawMean: true };
  return {
    candidates: negLabelCandidates(corpus, recipe.nounPromptTemplates ?? [recipe.nounPrompt], recipe.adjectivePrompt),
    rawMean: false,
  };
}

/**
 * The prompts of each ID label when the method embeds its labels itself (CSP's template
 * ensemble); null: the labels are embedded as their taxonomy version embeds them.
 */
export function ownIdLabelPrompts(recipe: Pick<MiningRecipe, 'method'>, labels: readonly string[]): string[][] | null {
  return recipe.method === 'CSP' ? labels.map(cspLabelPrompts) : null;
}

/** Distinct prompts of prompt lists, in first-seen order (what is encoded once). */
export function distinctPrompts(lists: ReadonlyArray<readonly string[]>): string[] {
  return [...new Set(lists.flat())];
}

/** Rows stacked between two turns of the event loop, so requests are served in between. */
const STACK_SLICE = 2048;

/**
 * One row per prompt list (a candidate or an ID label): its embedding from its prompts'
 * embeddings, stacked into a fresh rows × dim matrix. Yields to the event loop every few thousand
 * rows: 70k candidates in one go held the request thread ~150 ms.
 */
export async function stackEmbeddings(
  lists: ReadonlyArray<readonly string[]>,
  embedded: ReadonlyMap<string, PromptEmbedding>,
  rawMean: boolean,
  dim: number,
): Promise<Float32Array> {
  const matrix = new Float32Array(lists.length * dim);
  for (let row = 0; row < lists.length; row++) {
    matrix.set(candidateEmbedding(lists[row], embedded, rawMean), row * dim);
    if (row % STACK_SLICE === STACK_SLICE - 1) await nextTurn();
  }
  return matrix;
}

/** One kept negative label, as a negative set stores it. */
export interface MinedLabel {
  word: string;
  /** with an ensemble, the first template's text stands for the others (the parameters list them) */
  prompt: string;
  partOfSpeech: PartOfSpeech;
  quantileSimilarity: number;
  maxSimilarity: number;
  group: number;
  embedding: Float32Array;
}

export function minedLabels(
  plan: MiningPlan,
  stats: CandidateStatistics,
  mined: MinedNegativeSet,
  embedded: ReadonlyMap<string, PromptEmbedding>,
): MinedLabel[] {
  return mined.indices.map((c, i) => {
    const candidate = plan.candidates[c];
    return {
      word: candidate.word,
      prompt: candidate.prompts[0],
      partOfSpeech: candidate.pos,
      quantileSimilarity: stats.quantile[c],
      maxSimilarity: stats.max[c],
      group: mined.group[i],
      embedding: candidateEmbedding(candidate.prompts, embedded, plan.rawMean),
    };
  });
}

/** The label bank a mined selection scores with: ID rows, the kept candidates' rows, their groups. */
export function minedBank(
  idEmbeddings: Float32Array,
  candidateMatrix: Float32Array,
  mined: MinedNegativeSet,
  groups: number,
  dim: number,
  logitScale: number,
): LabelBank {
  const negatives = new Float32Array(mined.indices.length * dim);
  mined.indices.forEach((c, i) => {
    negatives.set(candidateMatrix.subarray(c * dim, (c + 1) * dim), i * dim);
  });
  return {
    dim,
    idEmbeddings,
    negativeEmbeddings: negatives,
    negativeGroups: mined.group,
    groupCount: groups,
    logitScale,
  };
}
