/** What a mining method encodes for each corpus word. */
import type { CorpusWord, PartOfSpeech } from './corpus.ts';
import { applyPrompt, ensembleEmbedding } from './prompts.ts';

/**
 * One mining candidate: the label it is stored as, its part of speech and the prompts whose mean
 * embedding embeds it (one prompt: that prompt's embedding).
 */
export interface Candidate {
  word: string;
  pos: PartOfSpeech;
  prompts: string[];
}

/** NegLabel's candidates: each word in its part of speech's templates (one each in the reference). */
export function negLabelCandidates(
  corpus: readonly CorpusWord[],
  nounTemplates: readonly string[],
  adjectiveTemplate: string,
): Candidate[] {
  return corpus.map((w) => ({
    word: w.text,
    pos: w.pos,
    prompts: (w.pos === 'noun' ? nounTemplates : [adjectiveTemplate]).map((t) => applyPrompt(t, w.text)),
  }));
}

/** A prompt's unit embedding and its norm before normalization (null when unknown). */
export interface PromptEmbedding {
  vector: Float32Array;
  norm: number | null;
}

/**
 * A candidate's (or label's) embedding from its prompts' embeddings: one prompt's own, or their
 * ensemble: the mean of raw embeddings when `raw` (CSP; every norm must be known), else of unit
 * vectors.
 */
export function candidateEmbedding(
  prompts: readonly string[],
  embeddings: ReadonlyMap<string, PromptEmbedding>,
  raw: boolean,
): Float32Array {
  if (prompts.length === 1) return embeddings.get(prompts[0])!.vector;
  const found = prompts.map((p) => embeddings.get(p)!);
  return ensembleEmbedding(
    found.map((e) => e.vector),
    raw ? found.map((e) => e.norm!) : undefined,
  );
}
