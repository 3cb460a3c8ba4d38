import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeHtmlEntities } from '../../../src/inference/html-entities.ts';

// inputs and Python's html.unescape of them, written by tools/make-html-unescape-cases.py
const { cases } = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../../fixtures/html-unescape/cases.json'), 'utf8'),
) as { cases: Array<{ input: string; output: string }> };

test("every case decodes as Python's html.unescape decodes it", () => {
  const mismatches = cases.filter((c) => decodeHtmlEntities(c.input) !== c.output);
  assert.deepEqual(
    mismatches.slice(0, 10).map((c) => ({ ...c, got: decodeHtmlEntities(c.input) })),
    [],
  );
  // the cases reach past the 50 names the old table held: every HTML5 name three ways
  assert.ok(cases.length > 6000);
});

test('names the old partial table lacked decode, and removing a dropped reference joins nothing', () => {
  assert.equal(decodeHtmlEntities('&frac12; &alpha;&Omega; &hearts; &rarr; &zwnj;'), '½ αΩ ♥ → \u200c');
  assert.equal(decodeHtmlEntities('&am&#1;p;'), '&amp;');
  assert.equal(decodeHtmlEntities('plain text'), 'plain text');
});
