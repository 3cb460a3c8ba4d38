import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, requestScope } from '../../src/logger.ts';

test('every line of a request carries its id, and no line inherits fields of an earlier one', () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = createLogger('info', sink);
  requestScope.run({ requestId: 'r-1', deadline: 1_800_000_000_000 }, () => {
    logger.info({ secret: 'from the first line' }, 'first');
    logger.info('second');
  });
  assert.equal(lines.length, 2);
  assert.equal(lines[0].requestId, 'r-1');
  assert.equal(lines[1].requestId, 'r-1');
  assert.equal(lines[1].secret, undefined);
  assert.equal(lines[0].deadline, undefined, 'the deadline steers the encoder, it is not logged');
});
