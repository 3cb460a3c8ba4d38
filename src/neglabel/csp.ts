/**
 * CSP, the conjugated semantic pool (NeurIPS 2024; ../shared/docs/beyond-neglabel.md): NegLabel's
 * mining over another candidate pool. Nouns stay words; every adjective becomes one phrase
 * "ADJECTIVE SUPERCLASS", which behaves like a cluster centre shared by many OOD categories. ID
 * labels and candidates are embedded as the mean of their raw text embeddings over template
 * ensembles. Selection, grouping and scoring are NegLabel's, except that near duplicates of an ID
 * label are always excluded.
 */
import type { Candidate } from './candidates.ts';
import type { CorpusWord } from './corpus.ts';
import { applyPrompt } from './prompts.ts';
import { mulberry32 } from './random.ts';

/** The WordNet lexicographer files CSP leaves out of NegLabel's corpus. */
export const CSP_EXCLUDED_LEXFILES: readonly string[] = ['noun.person', 'noun.quantity', 'noun.group', 'adj.pert'];

/** Templates of ID labels and noun candidates (8). */
export const CSP_LABEL_TEMPLATES: readonly string[] = [
  'a close-up photo of the nice {}.',
  'a photo with the nice {}.',
  'a good photo with the nice {}.',
  'a photo of the nice {}.',
  '{}',
  'the {}',
  'the good {}',
  'the nice {}',
];

/** Templates of adjective phrases (4). */
export const CSP_PHRASE_TEMPLATES: readonly string[] = [
  '{}',
  'a nice photo of {}',
  'a good photo of {}',
  'a close-up photo of {}',
];

/** The superclass words an adjective is conjugated with, one drawn per adjective. */
export const CSP_SUPERCLASSES: readonly string[] = [
  'environment',
  'space',
  'object',
  'scene',
  'place',
  'item',
  'area',
  'view',
  'thing',
  'pattern',
  'structure',
  'landscape',
  'vista',
  'creature',
];

/**
 * CSP's candidates from a corpus, in corpus order: nouns with the 8 label templates, adjectives
 * as "ADJECTIVE SUPERCLASS" phrases (the superclass a seeded draw, in corpus order, so the same
 * corpus and seed give the same phrases) with the 4 phrase templates.
 */
export function cspCandidates(corpus: readonly CorpusWord[], seed: number): Candidate[] {
  const draw = mulberry32(seed);
  return corpus.map((w) => {
    if (w.pos === 'noun') return { word: w.text, pos: w.pos, prompts: cspLabelPrompts(w.text) };
    const phrase = `${w.text} ${CSP_SUPERCLASSES[Math.floor(draw() * CSP_SUPERCLASSES.length)]}`;
    return { word: phrase, pos: w.pos, prompts: CSP_PHRASE_TEMPLATES.map((t) => applyPrompt(t, phrase)) };
  });
}

/** The 8 prompts of an ID label or noun. */
export function cspLabelPrompts(label: string): string[] {
  return CSP_LABEL_TEMPLATES.map((t) => applyPrompt(t, label));
}
