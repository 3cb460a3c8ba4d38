import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ClipTokenizer } from '../../../src/inference/tokenizer.ts';
import { FIXTURE_MODEL_DIR, reference } from '../../helpers/fixtures.ts';

const tokenizer = ClipTokenizer.fromTokenizerJson(readFileSync(path.join(FIXTURE_MODEL_DIR, 'tokenizer.json'), 'utf8'));

test('token ids equal the original CLIP tokenizer for every reference text', () => {
  const mismatches = reference.texts.filter((t) => JSON.stringify(tokenizer.encode(t.text)) !== JSON.stringify(t.ids));
  assert.deepEqual(mismatches.map((t) => t.text), []);
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
