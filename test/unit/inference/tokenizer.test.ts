import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ClipTokenizer } from '../../../src/inference/tokenizer.ts';
import { FIXTURE_MODEL_DIR, reference } from '../../helpers/fixtures.ts';

const tokenizer = ClipTokenizer.fromTokenizerJson(readFileSync(path.join(FIXTURE_MODEL_DIR, 'tokenizer.json'), 'utf8'));

test('token ids equal the original CLIP tokenizer for every reference text', () => {
  const mismatches = reference.texts.filter((t) => JSON.stringify(tokenizer.encode(t.text)) !== JSON.stringify(t.ids));
  assert.deepEqual(
    mismatches.map((t) => t.text),
    [],
  );
  assert.ok(reference.texts.length > 300);
});

test('long texts are truncated to 77 tokens with the end token kept last', () => {
  const ids = tokenizer.encode('word '.repeat(500));
  assert.equal(ids.length, 77);
  assert.equal(ids[0], tokenizer.startToken);
  assert.equal(ids[76], tokenizer.endToken);
});

test('empty and whitespace-only text give start and end tokens only', () => {
  assert.deepEqual(tokenizer.encode(''), [tokenizer.startToken, tokenizer.endToken]);
  assert.deepEqual(tokenizer.encode(' \t\n '), [tokenizer.startToken, tokenizer.endToken]);
});

test('HTML entities are unescaped and case is folded before splitting', () => {
  assert.deepEqual(tokenizer.encode('&amp;'), tokenizer.encode('&'));
  assert.deepEqual(tokenizer.encode('HELLO World'), tokenizer.encode('hello world'));
});

test(
  'hostile words: a 2 MB word fills the context instead of overflowing the stack; repeats merge as CLIP merges ' +
    'them',
  () => {
    // before: a spread-splice per merge overflowed the stack at 2 MB and took seconds at 30k
    const ids = tokenizer.encode('a'.repeat(2_000_000));
    assert.equal(ids.length, 77);
    assert.equal(ids[0], tokenizer.startToken);
    assert.equal(ids[76], tokenizer.endToken);
    // a word of 256 characters or fewer is one BPE word: equal to its reference encoding's prefix
    const word = 'supercalifragilisticexpialidocious';
    const once = tokenizer.encode(word).slice(1, -1);
    assert.ok(once.length > 1 && once.length < word.length, 'merged into a few pieces');
    // overlapping repeats of one pair merge left to right: "aaa" is "aa"+"a", never "a"+"aa"
    const aaa = tokenizer.encode('aaa').slice(1, -1);
    const aa = tokenizer.encode('aa').slice(1, -1);
    assert.ok(aaa.length <= 2 && aa.length === 1);
  },
);
