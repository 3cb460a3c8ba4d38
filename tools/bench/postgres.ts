/**
 * `npm run bench:postgres`: the several-process shape measured on a real PostgreSQL server with
 * pgvector (a throwaway cluster, durable as a production server: fsync and synchronous commit on),
 * the same figures on the embedded PGlite beside it. `--write-readme` puts the table in the
 * README. HISTORY_RECORDS (default 100,000) sizes the seeded history; SECONDS each timed run.
 *   1. the history's write path with 16 connections: ordered by position (this code), under the
 *      former global lock, and with no ordering at all (the same insert, writer_xid a constant)
 *   2. scoring records/s through GraphQL with 1, 2 and 4 API processes on one database
 *   3. similarScoringRecords on the seeded history: recall against an exact ranking, p95
 *   4. the first scoring request of a new process on that history, its similarity index missing
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import pg from 'pg';
import type { DdlSession } from '../../src/database/database.ts';
import type { NewScoringRecord } from '../../src/domain/scoring-record.ts';
import { ScoringRecordRepository, vectorIndexName } from '../../src/repositories/scoring-record-repository.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';
import {
  type Backend,
  comparisonTable,
  DIM,
  graphql,
  log,
  MODEL,
  minedTaxonomy,
  p95,
  pgliteBackend,
  postgresBackend,
  ready,
  SCORE,
  SECONDS,
  scoreRequest,
  scoringThroughput,
  seed,
  serve,
  templateRecord,
} from './processes.ts';

const HISTORY = Number(process.env.HISTORY_RECORDS ?? 100_000);

const noDdl: DdlSession = () => Promise.reject(new Error('no DDL in this measurement'));

/**
 * Records/s of 16 connections each writing 8-record batches (random embeddings, four callers)
 * through insertMany for SECONDS.
 */
async function insertThroughput(url: string, record: NewScoringRecord, locked: boolean): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on('error', (error) => log(`pool: ${error.message}`));
  let written = 0;
  let seed = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async (_, connection) => {
      while (Date.now() < until) {
        // distinct images (identical vectors make a degenerate HNSW graph), four callers
        const vectors = randomUnitVectors(8, DIM, ++seed);
        const batch = Array.from({ length: 8 }, (_, i) => ({
          ...record,
          caller: `bench-${connection % 4}`,
          imageEmbedding: vectors.subarray(i * DIM, (i + 1) * DIM),
        }));
        const client = await pool.connect();
        try {
          // the former design: ids taken under one advisory lock held through commit
          if (locked) await client.query('BEGIN; SELECT pg_advisory_xact_lock(72707369002)');
          const repository = new ScoringRecordRepository(client as unknown as pg.Pool, noDdl, false);
          // awaited before the sum: `written += await …` reads `written` first, then overwrites
          // what the other connections added meanwhile (the figures published before this counted so)
          const ids = (await repository.insertMany(batch)) as string[];
          written += ids.length;
          if (locked) await client.query('COMMIT');
        } finally {
          client.release();
        }
      }
    }),
  );
  await pool.end();
  return written / SECONDS;
}

/** Recall of the indexed search against an exact ranking, and its p95, over 40 random queries. */
async function similarity(pool: pg.Pool, taxonomyId: string | null, first: number) {
  const repository = new ScoringRecordRepository(pool, noDdl, false);
  const queries = randomUnitVectors(40, DIM, 11);
  const times: number[] = [];
  let found = 0;
  let expected = 0;
  for (let q = 0; q < 40; q++) {
    const query = queries.subarray(q * DIM, (q + 1) * DIM);
    const started = performance.now();
    const rows = await repository.nearest(MODEL, DIM, query, first, taxonomyId);
    times.push(performance.now() - started);
    const exact = await pool.query<{ id: string }>(
      `SELECT id::text AS id FROM scoring_records WHERE model_id = $1 AND ($3::uuid IS NULL OR taxonomy_id = $3)
       ORDER BY (image_embedding::vector(${DIM}) <=> $2::vector(${DIM})) + 0 LIMIT $4`,
      [MODEL, `[${Array.from(query).join(',')}]`, taxonomyId, first],
    );
    const truth = new Set(exact.rows.map((r) => r.id));
    found += rows.filter((r) => truth.has(r.record.id)).length;
    expected += truth.size;
  }
  return { recall: found / expected, p95: p95(times) };
}

async function measure(backend: Backend): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let port = 5200 + Math.floor(Math.random() * 500);
  const processes: ChildProcess[] = [];
  const api = async (url: string, role = 'api') => {
    const p = ++port;
    processes.push(serve({ NEGLABEL_ROLE: role, DATABASE_URL: url, PORT: String(p), NEGLABEL_DATA_DIR: os.tmpdir() }));
    await ready(p);
    return p;
  };
  const stopAll = async () => {
    for (const child of processes.splice(0)) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  };
  try {
    // 1. the write path, three ways
    const url = await backend.database();
    const first = await api(url, 'all');
    const taxonomyId = await minedTaxonomy(first, 'bench');
    await graphql(first, SCORE, scoreRequest(taxonomyId));
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', (error) => log(`pool: ${error.message}`));
    const record = await templateRecord(pool, taxonomyId);
    log(`${backend.name}: insert throughput`);
    // a warm-up nobody is measured by, then each variant twice, alternating, so none pays the
    // cold caches or a later run's larger index alone; each figure is the mean of its two runs
    await insertThroughput(url, record, false);
    const runs = { ordered: [] as number[], locked: [] as number[], unordered: [] as number[] };
    for (let round = 0; round < 2; round++) {
      runs.ordered.push(await insertThroughput(url, record, false));
      runs.locked.push(await insertThroughput(url, record, true));
      await pool.query(`ALTER TABLE scoring_records ALTER COLUMN writer_xid SET DEFAULT '0'`);
      runs.unordered.push(await insertThroughput(url, record, false));
      await pool.query('ALTER TABLE scoring_records ALTER COLUMN writer_xid SET DEFAULT pg_current_xact_id()');
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [ordered, locked, unordered] = [runs.ordered, runs.locked, runs.unordered].map(mean);
    for (const [name, xs] of Object.entries(runs))
      out[name] = `${mean(xs).toFixed(0)} records/s (${xs.map((r) => r.toFixed(0)).join(', ')})`;
    out.orderedRatio = `${(ordered / unordered).toFixed(2)} (goal >= 0.8)`;
    out.lockRatio = `${(ordered / locked).toFixed(2)}x`;
    // 2. scoring through 1, 2 and 4 API processes (one all-in-one is the first)
    log(`${backend.name}: scoring throughput`);
    const ports = [first];
    for (const count of [1, 2, 4]) {
      while (ports.length < count) ports.push(await api(url));
      out[`api${count}`] = `${(await scoringThroughput(ports, taxonomyId)).toFixed(0)} records/s`;
    }
    await stopAll();
    // 3. similarity on a seeded history
    log(`${backend.name}: seeding ${HISTORY} records`);
    const small = await (async () => {
      const p = await api(url, 'all');
      const id = await minedTaxonomy(p, 'small');
      await graphql(p, SCORE, scoreRequest(id));
      await stopAll();
      return id;
    })();
    // seeded without the similarity index (as a history from before it), which is then built whole
    await pool.query(`DROP INDEX IF EXISTS "${vectorIndexName(MODEL, DIM)}"`);
    await seed(pool, HISTORY, small, 0.026);
    const started = performance.now();
    await new ScoringRecordRepository(
      pool,
      async (run) => {
        const client = await pool.connect();
        try {
          return await run(client as unknown as pg.Client);
        } finally {
          client.release();
        }
      },
      false,
    ).ensureVectorIndex(MODEL, DIM);
    out.indexBuild = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    for (const [label, taxonomy] of [
      ['all', null],
      ['small', small],
    ] as const) {
      for (const k of [10, 100]) {
        const s = await similarity(pool, taxonomy, k);
        out[`similar_${label}_${k}`] = `recall ${s.recall.toFixed(3)}, p95 ${s.p95.toFixed(1)} ms`;
      }
    }
    // 4. a new process on that history without its index
    await pool.query(`DROP INDEX "${vectorIndexName(MODEL, DIM)}"`);
    await pool.end();
    log(`${backend.name}: first request of a new process`);
    const fresh = await api(url);
    const t0 = performance.now();
    await graphql(fresh, SCORE, scoreRequest(taxonomyId));
    const t1 = performance.now();
    await graphql(fresh, SCORE, scoreRequest(taxonomyId));
    const t2 = performance.now();
    out.firstRequest = `${(t1 - t0).toFixed(0)} ms (the next: ${(t2 - t1).toFixed(0)} ms)`;
  } finally {
    await stopAll();
  }
  return out;
}

const took = Date.now();
const results: Array<[string, Record<string, string>]> = [];
for (const make of [postgresBackend, pgliteBackend]) {
  const backend = await make();
  try {
    results.push([backend.name, await measure(backend)]);
  } finally {
    await backend.close();
  }
}
const rows: Array<[string, string]> = [
  ['history writes, 16 connections × 8 records, ordered by position (this code; mean of 2 runs)', 'ordered'],
  ['the same under the former global lock', 'locked'],
  ['the same with no ordering at all', 'unordered'],
  ['ordered / unordered', 'orderedRatio'],
  ['ordered / former lock', 'lockRatio'],
  ['scoring through GraphQL, 16 clients × 8 images: 1 all-in-one process', 'api1'],
  ['… 2 processes (all-in-one + 1 API)', 'api2'],
  ['… 4 processes (all-in-one + 3 API)', 'api4'],
  [`HNSW build, ${HISTORY.toLocaleString('en')} records`, 'indexBuild'],
  ['similarScoringRecords first 10, every record', 'similar_all_10'],
  ['… first 100, every record', 'similar_all_100'],
  ['… first 10, a taxonomy with 2.6 % of the records', 'similar_small_10'],
  ['… first 100, that taxonomy', 'similar_small_100'],
  ['first scoring request of a new API process, index missing', 'firstRequest'],
];
comparisonTable(
  results,
  rows,
  `bench:postgres took ${((Date.now() - took) / 1000).toFixed(0)} s; the fixture model (32-dim embeddings), ` +
    'PostgreSQL durable (fsync, synchronous commit on).',
  'postgres',
);
