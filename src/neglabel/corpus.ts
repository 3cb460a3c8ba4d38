/**
 * The candidate corpus NegLabel mines negatives from.
 *
 * Default (the reference's rule): the first lemma of every WordNet synset in the 23 noun
 * lexicographer files other than noun.animal and noun.food, and in the 3 adjective files;
 * lower-cased, `_` → space, punctuation artifacts stripped, deduplicated with nouns winning
 * (the reference's tie depended on directory order).
 */

export type PartOfSpeech = 'noun' | 'adjective';

export interface CorpusWord {
  text: string;
  pos: PartOfSpeech;
}

/** WordNet's lexicographer file numbers (lexnames) that the default corpus uses. */
export const CORPUS_LEXFILES: ReadonlyMap<number, { name: string; pos: PartOfSpeech }> = new Map<
  number,
  { name: string; pos: PartOfSpeech }
>([
  [0, { name: 'adj.all', pos: 'adjective' }],
  [1, { name: 'adj.pert', pos: 'adjective' }],
  [44, { name: 'adj.ppl', pos: 'adjective' }],
  ...(
    [
      [3, 'Tops'],
      [4, 'act'],
      [6, 'artifact'],
      [7, 'attribute'],
      [8, 'body'],
      [9, 'cognition'],
      [10, 'communication'],
      [11, 'event'],
      [12, 'feeling'],
      [14, 'group'],
      [15, 'location'],
      [16, 'motive'],
      [17, 'object'],
      [18, 'person'],
      [19, 'phenomenon'],
      [20, 'plant'],
      [21, 'possession'],
      [22, 'process'],
      [23, 'quantity'],
      [24, 'relation'],
      [25, 'shape'],
      [26, 'state'],
      [27, 'substance'],
      [28, 'time'],
    ] as const
  ).map(([n, name]) => [n, { name: `noun.${name}`, pos: 'noun' as const }] as const),
]);

/**
 * First lemma of each synset of a WordNet `data.noun` / `data.adj` file, grouped by lexicographer
 * file name, for the files in CORPUS_LEXFILES. Line format: offset lex_filenum ss_type w_cnt word …
 */
export function firstLemmasByLexfile(dataFile: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of dataFile.split('\n')) {
    if (line.length === 0 || line.startsWith(' ')) continue; // licence header lines start with spaces
    const fields = line.split(' ', 5);
    const lexfile = CORPUS_LEXFILES.get(Number(fields[1]));
    if (!lexfile || fields[4] === undefined) continue;
    const list = out.get(lexfile.name) ?? [];
    list.push(fields[4]);
    out.set(lexfile.name, list);
  }
  return out;
}

/**
 * Normalizes a raw lemma: lower-case, `_` → space, adjective position markers such as `(a)`
 * removed, leading/trailing punctuation artifacts (the reference's stray `[`) stripped.
 * Returns null when nothing word-like is left.
 */
export function cleanWord(raw: string): string | null {
  const text = raw
    .toLowerCase()
    .replace(/_/g, ' ')
    .replace(/\((a|p|ip)\)$/, '')
    .replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}.'")]+$/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
  return /[\p{L}\p{N}]/u.test(text) ? text : null;
}

/**
 * A custom-corpus word as the user wrote it: only whitespace is normalised. WordNet's cleanup
 * (lower-casing, position markers, punctuation) would merge `C++`, `C#` and `c`, or turn
 * `vitamin (A)` into `vitamin`. Returns null for a blank entry.
 */
export function cleanCustomWord(raw: string): string | null {
  const text = raw.normalize('NFC').replace(/\s+/g, ' ').trim();
  return text.length > 0 ? text : null;
}

/**
 * Cleans (WordNet's rule unless told otherwise) and deduplicates word lists; a word that is both
 * noun and adjective stays a noun.
 */
export function buildCorpus(
  lists: ReadonlyArray<{ pos: PartOfSpeech; words: readonly string[] }>,
  clean: (raw: string) => string | null = cleanWord,
): CorpusWord[] {
  const ordered = [...lists.filter((l) => l.pos === 'noun'), ...lists.filter((l) => l.pos === 'adjective')];
  const seen = new Set<string>();
  const corpus: CorpusWord[] = [];
  for (const list of ordered) {
    for (const raw of list.words) {
      const text = clean(raw);
      if (text === null || seen.has(text)) continue;
      seen.add(text);
      corpus.push({ text, pos: list.pos });
    }
  }
  return corpus;
}

/**
 * The default corpus from the contents of WordNet's data.noun and data.adj files, without the
 * lexicographer files named in `excludedLexfiles` (CSP leaves four out).
 */
export function wordNetCorpus(
  dataNoun: string,
  dataAdj: string,
  excludedLexfiles: readonly string[] = [],
): CorpusWord[] {
  const lemmas = new Map([...firstLemmasByLexfile(dataNoun), ...firstLemmasByLexfile(dataAdj)]);
  const lists = [...CORPUS_LEXFILES.values()]
    .filter(({ name }) => !excludedLexfiles.includes(name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(({ name, pos }) => ({ pos, words: lemmas.get(name) ?? [] }));
  return buildCorpus(lists);
}
