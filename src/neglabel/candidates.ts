/** What a mining method encodes for each corpus word. */
import type { CorpusWord, PartOfSpeech } from './corpus.ts';
import { applyPrompt } from './prompts.ts';

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
