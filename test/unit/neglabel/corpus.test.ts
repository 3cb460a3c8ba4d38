import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCorpus, cleanWord } from '../../../src/neglabel/corpus.ts';
import { customCorpus, loadWordNetCorpus } from '../../../src/services/corpus-source.ts';

const REFERENCE = path.resolve('test/fixtures/neglabel-reference/txtfiles');

test('cleaning lower-cases, maps _ to space, strips markers and stray punctuation', () => {
  assert.equal(cleanWord('Granny_Smith'), 'granny smith');
  assert.equal(cleanWord('[unheard'), 'unheard');
  assert.equal(cleanWord('beaming(a)'), 'beaming');
  assert.equal(cleanWord("jack-o'-lantern"), "jack-o'-lantern");
  assert.equal(cleanWord('[]'), null);
});

test('a word that is both noun and adjective is a noun, whatever the list order', () => {
  const corpus = buildCorpus([
    { pos: 'adjective', words: ['Blue', 'quick'] },
    { pos: 'noun', words: ['blue', 'dog'] },
  ]);
  assert.deepEqual(corpus, [
    { text: 'blue', pos: 'noun' },
    { text: 'dog', pos: 'noun' },
    { text: 'quick', pos: 'adjective' },
  ]);
});

test(
  'the WordNet 3.1 corpus follows the reference rule; overlap with the WordNet 3.0 reference lists is ' + 'reported',
  (t) => {
    const corpus = loadWordNetCorpus();
    const reference = buildCorpus(
      readdirSync(REFERENCE).map((file) => ({
        pos: file.startsWith('noun') ? ('noun' as const) : ('adjective' as const),
        words: readFileSync(path.join(REFERENCE, file), 'utf8').split('\n').filter(Boolean),
      })),
    );
    const ours = new Set(corpus.map((w) => w.text));
    const theirs = new Set(reference.map((w) => w.text));
    const shared = [...ours].filter((w) => theirs.has(w)).length;
    t.diagnostic(
      `WordNet 3.1 corpus: ${corpus.length} words (${corpus.filter((w) => w.pos === 'noun').length} nouns); ` +
        `reference (3.0): ${reference.length}`,
    );
    t.diagnostic(
      `shared: ${shared} = ${((100 * shared) / theirs.size).toFixed(2)} % of the reference, ` +
        `${((100 * shared) / ours.size).toFixed(2)} % of ours`,
    );
    assert.equal(ours.size, corpus.length, 'deduplicated');
    assert.ok(Math.abs(corpus.length - 70000) < 2000, `corpus size ${corpus.length}`);
    assert.ok(shared / theirs.size > 0.95, 'WordNet 3.0 and 3.1 differ only a little');
    assert.ok(!corpus.some((w) => w.text.startsWith('[')));
    assert.ok(!ours.has('golden retriever') && !ours.has('goldfish'), 'noun.animal is excluded');
    assert.ok(!ours.has('souvlaki'), 'noun.food is excluded');
  },
);

test("a custom corpus keeps its words as written: WordNet's cleanup would merge or cut them", () => {
  const { words } = customCorpus([
    { text: 'C++', partOfSpeech: 'noun' },
    { text: 'C#', partOfSpeech: 'noun' },
    { text: 'c', partOfSpeech: 'noun' },
    { text: 'vitamin (A)', partOfSpeech: 'noun' },
    { text: '  ice   cream ', partOfSpeech: 'noun' },
    { text: 'C++', partOfSpeech: 'adjective' },
    { text: '   ', partOfSpeech: 'noun' },
  ]);
  assert.deepEqual(words, [
    { text: 'C++', pos: 'noun' },
    { text: 'C#', pos: 'noun' },
    { text: 'c', pos: 'noun' },
    { text: 'vitamin (A)', pos: 'noun' },
    { text: 'ice cream', pos: 'noun' },
  ]);
});
