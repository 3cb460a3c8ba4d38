import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CSP_EXCLUDED_LEXFILES,
  CSP_LABEL_TEMPLATES,
  CSP_PHRASE_TEMPLATES,
  CSP_SUPERCLASSES,
  cspCandidates,
} from '../../../src/neglabel/csp.ts';
import type { CorpusWord } from '../../../src/neglabel/corpus.ts';
import { ensembleEmbedding } from '../../../src/neglabel/prompts.ts';
import { loadWordNetCorpus } from '../../../src/services/corpus-source.ts';

const ADJECTIVES = Array.from({ length: 400 }, (_, i) => `adj${i}`);
const CORPUS: CorpusWord[] = [
  { text: 'lamp', pos: 'noun' },
  ...ADJECTIVES.map((text) => ({ text, pos: 'adjective' as const })),
];

test('CSP turns every adjective into one "ADJECTIVE SUPERCLASS" phrase drawn with the seed', () => {
  const candidates = cspCandidates(CORPUS, 7);
  assert.deepEqual(candidates[0], {
    word: 'lamp',
    pos: 'noun',
    prompts: CSP_LABEL_TEMPLATES.map((t) => t.replace('{}', 'lamp')),
  });
  assert.equal(candidates[0].prompts.length, 8);
  const used = new Set<string>();
  for (const [i, c] of candidates.slice(1).entries()) {
    const [adjective, superclass, ...rest] = c.word.split(' ');
    assert.equal(adjective, ADJECTIVES[i]);
    assert.equal(rest.length, 0);
    assert.ok(CSP_SUPERCLASSES.includes(superclass), superclass);
    used.add(superclass);
    assert.deepEqual(
      c.prompts,
      CSP_PHRASE_TEMPLATES.map((t) => t.replace('{}', c.word)),
    );
  }
  // 400 draws from 14 words: every superclass appears
  assert.equal(used.size, 14);
  assert.deepEqual(cspCandidates(CORPUS, 7), candidates, 'same corpus and seed, same phrases');
  const other = cspCandidates(CORPUS, 8);
  assert.ok(
    other.filter((c, i) => c.word !== candidates[i].word).length > 300,
    'another seed draws other superclasses',
  );
});

test('a raw ensemble is the normalized mean of the raw embeddings, not of the unit vectors', () => {
  const raw = [Float32Array.from([3, 0, 0]), Float32Array.from([0, 1, 0]), Float32Array.from([0, 0, 2])];
  const norms = raw.map((r) => Math.hypot(...r));
  const units = raw.map((r, i) => r.map((v) => v / norms[i]));
  const sum = [3, 1, 2];
  const expected = sum.map((v) => v / Math.hypot(...sum));
  const got = ensembleEmbedding(units, norms);
  expected.forEach((v, d) => {
    assert.ok(Math.abs(got[d] - v) < 1e-6, `${got[d]} vs ${v}`);
  });
  const unitMean = ensembleEmbedding(units);
  assert.ok(Math.abs(unitMean[0] - 1 / Math.sqrt(3)) < 1e-6, 'without norms: the mean of unit vectors');
});

test("CSP's corpus is NegLabel's without noun.person, noun.quantity, noun.group and adj.pert", () => {
  const negLabel = loadWordNetCorpus();
  const csp = loadWordNetCorpus(CSP_EXCLUDED_LEXFILES);
  const words = new Set(csp.map((w) => `${w.pos}:${w.text}`));
  assert.ok(csp.length < negLabel.length - 10_000, `${csp.length} vs ${negLabel.length}`);
  const negLabelWords = new Set(negLabel.map((w) => w.text));
  assert.ok(csp.every((w) => negLabelWords.has(w.text)));
  // first lemmas only in the excluded files: physicist (noun.person), kilogram (noun.quantity),
  // platoon (noun.group), lunar (adj.pert); a lemma also in a kept file stays (volcanic: adj.all)
  for (const gone of ['noun:physicist', 'noun:kilogram', 'noun:platoon', 'adjective:lunar']) {
    assert.ok(negLabelWords.has(gone.split(':')[1]), `${gone} is in NegLabel's corpus`);
    assert.ok(!words.has(gone), gone);
  }
  for (const kept of ['noun:lamp', 'noun:volcano', 'adjective:gooey', 'adjective:volcanic'])
    assert.ok(words.has(kept), kept);
});
