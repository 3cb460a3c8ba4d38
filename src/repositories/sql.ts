/**
 * Typed helpers for the two SQL shapes the repositories repeat: a bulk insert from parallel
 * arrays (`unnest`, one parameter a column, so a write of N rows is one statement of a fixed size)
 * and a transaction on one pooled connection. A column is named once, next to the value it takes
 * from a row, so the column list, the parameter numbers and the arrays cannot drift apart.
 */
import type pg from 'pg';
import { vectorArrayBytes } from './vectors.ts';

/** How a row's value crosses as an array element: a Postgres element type, or pgvector in binary. */
type ElementType =
  | 'text'
  | 'uuid'
  | 'float8'
  | 'real'
  | 'smallint'
  | 'int'
  | 'bigint'
  | 'bool'
  | 'bytea'
  | 'jsonb'
  | 'vector';

type ValueOf<T extends ElementType> = T extends 'text' | 'uuid' | 'jsonb'
  ? string | null
  : T extends 'float8' | 'real' | 'smallint' | 'int'
    ? number | null
    : T extends 'bigint'
      ? bigint | string | number | null
      : T extends 'bool'
        ? boolean | null
        : T extends 'bytea'
          ? Buffer | null
          : Float32Array;

/** One column of an unnest: its element type and how a row gives its value. */
export type UnnestColumn<Row, T extends ElementType = ElementType> = readonly [T, (row: Row) => ValueOf<T>];

/** A column's declaration (typed so the value getter matches the element type). */
export function column<Row, T extends ElementType>(type: T, value: (row: Row) => ValueOf<T>): UnnestColumn<Row, T> {
  return [type, value];
}

export interface UnnestedRows {
  /** `unnest($k::type[], …) WITH ORDINALITY AS alias(name, …, n)`: `n` is each row's 1-based position */
  from: string;
  /** the column names, comma-separated, for `INSERT INTO t (…)` and `SELECT …` */
  names: string;
  /** the arrays, one a column, in the order of the placeholders */
  parameters: unknown[];
}

/**
 * The rows as an unnest of one array parameter a column, numbered from `firstParameter`. jsonb
 * values cross as text and are cast back; vectors cross as one binary `vector[]` (`vectorOid`:
 * the type's oid in this database, vectorTypeOid).
 */
export function unnestRows<Row>(
  rows: readonly Row[],
  columns: Record<string, UnnestColumn<Row>>,
  options: { firstParameter?: number; alias?: string; vectorOid?: number } = {},
): UnnestedRows {
  const { firstParameter = 1, alias = 'x' } = options;
  const entries = Object.entries(columns);
  const placeholders: string[] = [];
  const parameters = entries.map(([name, [type, value]], i) => {
    const placeholder = `$${firstParameter + i}`;
    placeholders.push(`${placeholder}::${type === 'jsonb' ? 'text' : type}[]`);
    if (type !== 'vector') return rows.map((row) => value(row));
    if (options.vectorOid === undefined) throw new Error(`unnestRows: column ${name} is a vector: pass vectorOid`);
    return vectorArrayBytes(
      rows.map((row) => value(row) as Float32Array),
      options.vectorOid,
    );
  });
  const names = entries.map(([name]) => name);
  return {
    from: `unnest(${placeholders.join(', ')}) WITH ORDINALITY AS ${alias}(${names.join(', ')}, n)`,
    names: entries.map(([name, [type]]) => (type === 'jsonb' ? `${name}::jsonb` : name)).join(', '),
    parameters,
  };
}

/** The column names alone (the `INSERT INTO t (…)` list, without the casts `names` may carry). */
export function columnList(columns: Record<string, unknown>): string {
  return Object.keys(columns).join(', ');
}

/**
 * Runs `work` in a transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when
 * it throws (the error passes on), the connection released either way. `begin` may add
 * statements that belong at the start (SET LOCAL).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
