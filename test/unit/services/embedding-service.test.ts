/**
 * The embedding service's request budgets and error attribution, over a fake encoder that records
 * what reaches it: a refused request must cost the encoder nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainError } from '../../../src/errors.ts';
import { EmbeddingService } from '../../../src/services/embedding-service.ts';
import { FAKE_LIMITS, FakeEncoder } from '../../helpers/fakes.ts';
import { base64 } from '../../helpers/app.ts';
import { fixtureImage } from '../../helpers/fixtures.ts';

const tiny = fixtureImage('images/tiny8.png');
/** the fixture tiny8.png "fails to decode" in the encoder */
const fakeEncoder = () => {
  const encoder = new FakeEncoder(2, (bytes) => Buffer.compare(Buffer.from(bytes), tiny) === 0);
  return { encoder, calls: encoder.calls };
};

test('text limits are checked before any encoding: count, length per text, length per request', async () => {
  const { encoder, calls } = fakeEncoder();
  const service = new EmbeddingService(encoder, FAKE_LIMITS);
  const refused = async (texts: string[], code: string) =>
    assert.rejects(service.embedTexts(null, texts), (error: DomainError) => error.code === code);
  await refused([], 'BAD_USER_INPUT');
  await refused(['a', 'b', 'c', 'd', 'e'], 'BATCH_TOO_LARGE');
  await refused(['short', 'far too long text'], 'TEXT_TOO_LONG');
  await refused(['123456789', '123456789', '123456789'], 'REQUEST_BUDGET_EXCEEDED');
  assert.deepEqual(calls, [], 'nothing reached the encoder');
  assert.equal((await service.embedTexts(null, ['cat', 'dog'])).vectors.length, 2);
  assert.deepEqual(calls, [{ kind: 'texts', count: 2 }]);
});

test(
  'the pixel budget counts declared pixels before decoding, and a failed image is named by index ' + 'and file',
  async () => {
    const { encoder, calls } = fakeEncoder();
    const service = new EmbeddingService(encoder, FAKE_LIMITS);
    const image = (file: string) => ({ data: base64(fixtureImage(`images/${file}`)), filename: file });
    // 224x224 = 50,176 pixels each: two fit in 100,000, three do not
    await assert.rejects(
      service.embedImageInputs(null, [image('rgb224.png'), image('rgb224b.png'), image('rgb224.jpg')], 'test'),
      (error: DomainError) => error.code === 'REQUEST_BUDGET_EXCEEDED',
    );
    assert.deepEqual(calls, []);
    await assert.rejects(
      service.embedImageInputs(null, [image('rgb224.png'), image('tiny8.png')], 'test'),
      (error: DomainError) => {
        assert.equal(error.code, 'INVALID_IMAGE');
        assert.match(error.message, /^images\[1\] \(tiny8\.png\): not an image/);
        assert.deepEqual({ field: error.details?.field, index: error.details?.index }, { field: 'images', index: 1 });
        return true;
      },
    );
  },
);
