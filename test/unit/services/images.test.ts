/** Base64 image data as clients send it: clean, wrapped, URL-safe, in a data: URL — or refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readImageInputs } from '../../../src/services/images.ts';

const limits = {
  maxImages: 8,
  maxFileBytes: 1 << 20,
  maxRequestBytes: 1 << 22,
  url: { allowPrivate: false, connectTimeoutMs: 1000, timeoutMs: 1000, maxBytes: 1 << 20 },
} as unknown as Parameters<typeof readImageInputs>[1];

const decode = async (data: string) => Buffer.from((await readImageInputs([{ data }], limits))[0].bytes);

test('every accepted spelling of base64 decodes to the original bytes', async () => {
  for (const length of [0, 1, 2, 3, 4, 5, 100, 5000, 70_001]) {
    const original = Buffer.from(Array.from({ length }, (_, i) => (i * 131 + 7) % 256));
    const standard = original.toString('base64');
    const variants = {
      standard,
      'without padding': standard.replace(/=+$/, ''),
      'URL-safe alphabet': original.toString('base64url'),
      'MIME lines (76 columns, CRLF)': standard.replace(/.{76}/g, '$&\r\n'),
      'spaces and tabs': standard.replace(/(.{10})/g, '$1 \t'),
      'data: URL': `data:image/png;base64,${standard}`,
    };
    for (const [name, text] of Object.entries(variants))
      assert.deepEqual(await decode(text), original, `${name}, ${length} bytes`);
  }
});

test('anything else is refused with INVALID_BASE64, not decoded to something shorter', async () => {
  const valid = Buffer.from('hello, world').toString('base64');
  for (const text of [
    '***',
    `${valid}!`,
    `${valid}!!`,
    `!!!!${valid}`,
    `${valid.slice(0, 4)}==${valid.slice(4)}`,
    'QUJDR',
    `${valid}é`,
  ]) {
    await assert.rejects(readImageInputs([{ data: text }], limits), { code: 'INVALID_BASE64' }, text);
  }
});
