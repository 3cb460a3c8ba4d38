import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, requestScope } from '../../src/logger.ts';

test('every log line written inside a request carries its request id, even across awaits', async () => {
  const lines: any[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(chunk.toString())); done(); } });
  const logger = createLogger('info', sink);
  await requestScope.run({ requestId: 'req-7' }, async () => {
    logger.info('before');
    await new Promise((r) => setTimeout(r, 5));
    logger.child({ job: 'j' }).warn('after an await, from a child logger');
  });
  logger.info('outside');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines.map((l) => [l.msg, l.requestId]), [['before', 'req-7'], ['after an await, from a child logger', 'req-7'], ['outside', undefined]]);
});
