/**
 * Vectors cross the database boundary in pgvector's binary format (what `vector_send` writes and
 * `vector_recv` reads: int16 dimensions, int16 zero, then each float4 big-endian), not as text.
 * Measured on the embedded database over its socket: a 500-row insert of 512-dim vectors takes
 * 44 µs a row from a binary `vector[]` parameter and 898 µs from text literals (the single backend
 * parsing decimal floats), and formatting the text cost the request thread about as much again.
 * node-pg sends a Buffer parameter in binary format, so a `$n::vector` parameter takes
 * `vectorBytes`, a `$n::vector[]` one `vectorArrayBytes`; a column is read as
 * `vector_send(column)` (bytea, a Buffer in node-pg) and decoded with `vectorFromBytes`.
 */
import type pg from 'pg';

const HEADER = 4;

/** One vector in pgvector's binary format. */
export function vectorBytes(vector: Float32Array): Buffer {
  const bytes = Buffer.alloc(HEADER + vector.length * 4);
  bytes.writeUInt16BE(vector.length, 0); // the second int16 stays zero (pgvector requires it)
  bytes.set(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength), HEADER);
  bytes.subarray(HEADER).swap32(); // float4 in network byte order
  return bytes;
}

/**
 * A one-dimensional `vector[]` in Postgres' binary array format (what `array_recv` reads): ndim,
 * has-nulls flag, element type, then the length and lower bound of the dimension, then each
 * element as its byte length and its bytes. `vectorOid` is the vector type's oid in that database
 * (`vectorTypeOid`): `array_recv` refuses elements of any other type.
 */
export function vectorArrayBytes(vectors: readonly Float32Array[], vectorOid: number): Buffer {
  const header = Buffer.alloc(20);
  header.writeInt32BE(1, 0);
  header.writeInt32BE(0, 4);
  header.writeUInt32BE(vectorOid, 8);
  header.writeInt32BE(vectors.length, 12);
  header.writeInt32BE(1, 16);
  const parts: Buffer[] = [header];
  for (const vector of vectors) {
    const element = vectorBytes(vector);
    const length = Buffer.alloc(4);
    length.writeInt32BE(element.length);
    parts.push(length, element);
  }
  return Buffer.concat(parts);
}

/** A vector read as `vector_send(column)`. */
export function vectorFromBytes(bytes: Uint8Array): Float32Array {
  const dim = (bytes[0] << 8) | bytes[1];
  if (bytes.length !== HEADER + dim * 4) throw new Error(`not a pgvector value: ${bytes.length} bytes for ${dim} dims`);
  const vector = new Float32Array(dim);
  const view = Buffer.from(vector.buffer);
  view.set(bytes.subarray(HEADER));
  view.swap32();
  return vector;
}

const oids = new WeakMap<pg.Pool, Promise<number>>();

/**
 * The vector type's oid in the pool's database (the extension's types get their oids when it is
 * created), looked up once per pool. Call it before taking a client for a transaction: on the
 * embedded database the pool may have a single connection.
 */
export function vectorTypeOid(pool: pg.Pool): Promise<number> {
  let oid = oids.get(pool);
  if (!oid) {
    oid = pool.query<{ oid: number }>(`SELECT 'vector'::regtype::oid::int AS oid`).then(({ rows }) => rows[0].oid);
    oid.catch(() => oids.delete(pool));
    oids.set(pool, oid);
  }
  return oid;
}
