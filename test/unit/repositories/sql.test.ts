/** The unnest helper: placeholders numbered from where the statement needs them, casts where Postgres needs them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { column, columnList, unnestRows } from '../../../src/repositories/sql.ts';

interface Row {
  name: string;
  tags: string[];
  weight: number | null;
}

const COLUMNS = {
  name: column('text', (r: Row) => r.name),
  tags: column('jsonb', (r: Row) => JSON.stringify(r.tags)),
  weight: column('real', (r: Row) => r.weight),
};

test('each column becomes one array parameter, numbered from firstParameter, in declaration order', () => {
  const rows: Row[] = [
    { name: 'a', tags: ['x'], weight: 1 },
    { name: 'b', tags: [], weight: null },
  ];
  const unnested = unnestRows(rows, COLUMNS, { firstParameter: 3, alias: 't' });
  assert.equal(unnested.from, 'unnest($3::text[], $4::text[], $5::real[]) WITH ORDINALITY AS t(name, tags, weight, n)');
  assert.equal(unnested.names, 'name, tags::jsonb, weight');
  assert.deepEqual(unnested.parameters, [
    ['a', 'b'],
    ['["x"]', '[]'],
    [1, null],
  ]);
  assert.equal(columnList(COLUMNS), 'name, tags, weight');
});

test('a vector column needs the vector type oid, and crosses as one binary array', () => {
  const columns = { embedding: column('vector', (r: { v: Float32Array }) => r.v) };
  const rows = [{ v: new Float32Array([1, 2]) }];
  assert.throws(() => unnestRows(rows, columns), /vectorOid/);
  const [bytes] = unnestRows(rows, columns, { vectorOid: 12345 }).parameters as Buffer[];
  assert.ok(Buffer.isBuffer(bytes));
  assert.equal(bytes.readInt32BE(8), 12345); // the element type in array_recv's header
});
