/** Base64 image data as clients send it: clean, wrapped, URL-safe, in a data: URL — or refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
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

test('a request over its byte budget stops reading the moment it is spent, whatever the sources', async () => {
  const budget = { ...limits, maxImages: 300, maxFileBytes: 1 << 30, maxRequestBytes: 4 << 20 };
  // one 1 MiB base64 value in 200 slots (one variable referenced 200 times): each slot counts, and
  // nothing past the budget is decoded
  const megabyte = Buffer.alloc(1 << 20, 7).toString('base64');
  const decodeBase64 = Buffer.from;
  let decoded = 0;
  Buffer.from = ((value: unknown, encoding?: unknown) => {
    if (encoding === 'base64') decoded++;
    return (decodeBase64 as (v: unknown, e?: unknown) => Buffer)(value, encoding);
  }) as typeof Buffer.from;
  try {
    await assert.rejects(
      readImageInputs(
        Array.from({ length: 200 }, () => ({ data: megabyte })),
        budget,
      ),
      { code: 'REQUEST_BUDGET_EXCEEDED' },
    );
  } finally {
    Buffer.from = decodeBase64;
  }
  assert.ok(decoded <= 4, `${decoded} of 200 slots decoded with a budget of 4 MiB`);

  // an upload that would go on for 1 GiB is read only until the budget is spent
  let pulled = 0;
  const endless = () =>
    Promise.resolve({
      filename: 'endless.png',
      createReadStream: () =>
        new Readable({
          read() {
            pulled++;
            this.push(pulled > 1024 ? null : Buffer.alloc(1 << 20));
          },
        }),
    } as never);
  await assert.rejects(
    readImageInputs([{ data: Buffer.alloc(3 << 20).toString('base64') }, { file: endless() }], budget),
    { code: 'REQUEST_BUDGET_EXCEEDED' },
  );
  assert.ok(pulled <= 4, `${pulled} MiB of the upload read with 1 MiB of budget left`);
});

test('an upload over its limit is IMAGE_TOO_LARGE, whether the parser stopped it before or while read', async () => {
  const tooLarge = () => Object.assign(new Error('File truncated as it exceeds the byte size limit.'), { status: 413 });
  // a loaded server reaches the resolver after the parser already stopped the file
  const stoppedBefore = Promise.resolve({
    filename: 'big.png',
    createReadStream: () => {
      throw tooLarge();
    },
  } as never);
  const stoppedWhile = Promise.resolve({
    filename: 'big.png',
    createReadStream: () =>
      new Readable({
        read() {
          this.destroy(tooLarge());
        },
      }),
  } as never);
  for (const file of [stoppedBefore, stoppedWhile])
    await assert.rejects(readImageInputs([{ file }], limits), { code: 'IMAGE_TOO_LARGE' });
});
