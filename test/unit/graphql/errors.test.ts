import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLError } from 'graphql';
import { DatabaseError } from 'pg';
import { createErrorFormatter, errorCode } from '../../../src/graphql/errors.ts';
import { createLogger } from '../../../src/logger.ts';

/** What an external Postgres sends when its disk is full, as pg raises it inside a resolver. */
function diskFullFromResolver(): GraphQLError {
  const error = new DatabaseError('could not extend file "base/5/16390": No space left on device', 100, 'error');
  error.code = '53100';
  return new GraphQLError(error.message, { path: ['scoreImages'], originalError: error });
}

test(
  "an external database's disk-full error reaches the client as STORAGE_FULL and marks the service not " + 'ready',
  () => {
    let reported = 0;
    const format = createErrorFormatter(createLogger('silent'), () => reported++);
    const error = diskFullFromResolver();
    const formatted = format({ message: error.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }, error);
    assert.equal(formatted.extensions?.code, 'STORAGE_FULL');
    assert.match(formatted.message, /out of disk space.*free space on the database server/);
    assert.equal(reported, 1);
    assert.equal(errorCode(error), 'STORAGE_FULL', 'metrics count it under the same code');
  },
);

test('the same error wrapped by the Prisma driver adapter is recognised too', () => {
  const wrapped = Object.assign(new Error('Database error'), {
    cause: { kind: 'postgres', originalCode: '53100', originalMessage: 'No space left on device' },
  });
  const error = new GraphQLError('Database error', { originalError: wrapped });
  assert.equal(errorCode(error), 'STORAGE_FULL');
  const other = new GraphQLError('Database error', {
    originalError: Object.assign(new Error('x'), { cause: { originalCode: '23505' } }),
  });
  assert.equal(errorCode(other), 'INTERNAL_SERVER_ERROR', 'other database errors stay internal');
});
