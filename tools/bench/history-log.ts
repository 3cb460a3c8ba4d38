/**
 * `npm run bench:history-log`: what the verifiable history costs (src/transparency/,
 * src/jobs/history-sealer.ts), side by side in one run. `--write-readme` puts the table in the
 * README. HISTORY_RECORDS (default 200,000) sizes the sealed history, LOG_LEAVES (default
 * 10,000,000) the log the proofs are timed on, SECONDS each scoring run.
 *   1. sealing on one core: hashing, tree and signature of realistic leaves, no database
 *   2. sealing end to end on each backend: read, hash and write rounds of 5,000 over a seeded history
 *   3. scoring through GraphQL with the sealer off and on (one all-in-one process, 16 clients,
 *      alternating twice), and how long a record waits to be in a checkpoint while it runs
 *   4. inclusion and consistency proofs from a log of LOG_LEAVES leaves on PostgreSQL: size, p50, p95
 */
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { applyMigrations } from '../../src/database/migrate.ts';
import { buildRound, HistorySealer } from '../../src/jobs/history-sealer.ts';
import { createLogger } from '../../src/logger.ts';
import { HistoryLogRepository, type UnsealedRow } from '../../src/repositories/history-log-repository.ts';
import { vectorIndexName } from '../../src/repositories/scoring-record-repository.ts';
import { HistoryLogService } from '../../src/services/history-log-service.ts';
import { newSigningKeyPem, signCheckpoint, signingKeyFromPem } from '../../src/transparency/checkpoint.ts';
import { Frontier, isStoredLevel, verifyConsistency, verifyInclusion } from '../../src/transparency/merkle.ts';
import {
  type Backend,
  comparisonTable,
  DIM,
  MODEL,
  graphql,
  log,
  minedTaxonomy,
  p95,
  pgliteBackend,
  postgresBackend,
  ready,
  ROOT,
  SCORE,
  scoreRequest,
  scoringThroughput,
  seed,
  serve,
  sleep,
} from './processes.ts';

const HISTORY = Number(process.env.HISTORY_RECORDS ?? 200_000);
const LOG_LEAVES = Number(process.env.LOG_LEAVES ?? 10_000_000);
const key = signingKeyFromPem(newSigningKeyPem());
const quiet = createLogger('warn');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const percentiles = (ms: number[]) => `p50 ${median(ms).toFixed(1)} ms, p95 ${p95(ms).toFixed(1)} ms`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A scoring record's leaf fields as the service writes them: five labels and five negatives. */
function realisticRow(i: number): UnsealedRow {
  const labels = ['tabby cat', 'golden retriever', 'hamster', 'barn owl', 'goldfish'];
  return {
    kind: 'scoring',
    id: String(i + 1),
    xid: String(1000 + i),
    fields: {
      id: String(i + 1),
      createdAt: new Date(1_796_000_000_000 + i * 10).toISOString(),
      caller: `service-${i % 7}`,
      taxonomyId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
      taxonomyVersionId: '6fa459ea-ee8a-3ca4-894e-db77e160355e',
      taxonomyVersion: 3,
      negativeSetId: '886313e1-3b8a-5372-9b90-0c9aee199e5d',
      modelId: 'clip-vit-b16',
      imageHash: createHash('sha256').update(String(i)).digest('hex'),
      score: 0.5 + (i % 1000) / 2001,
      logitScore: -2 + (i % 997) / 250,
      adaptiveScore: null,
      memorySnapshotId: null,
      memorySize: null,
      threshold: 0.63,
      thresholdSpace: 'SCORE',
      requestedThreshold: null,
      requestedThresholdSpace: null,
      requestedIsOod: null,
      isOod: i % 5 === 0,
      predictedLabel: labels[i % 5],
      topLabels: labels.map((label, k) => ({ label, similarity: 0.31 - k * 0.013 - (i % 13) / 1e4 })),
      topNegatives: ['lawn mower', 'sunset', 'quarry', 'violin', 'stapler'].map((label, k) => ({
        label,
        prompt: `a photo of a ${label}.`,
        similarity: 0.22 - k * 0.011,
      })),
    },
  };
}

/** 1. leaves/s of building rounds of 5,000 on this thread. */
function sealingCompute(): string {
  const rows = Array.from({ length: 100_000 }, (_, i) => realisticRow(i));
  let previous = null;
  const started = performance.now();
  for (let at = 0; at < rows.length; at += 5_000)
    previous = buildRound(previous, rows.slice(at, at + 5_000), key).checkpoint;
  return `${(rows.length / ((performance.now() - started) / 1000)).toFixed(0)} leaves/s (goal >= 20,000)`;
}

/** 2. leaves/s of sealing a seeded history through the repository, rounds of 5,000. */
async function sealingEndToEnd(url: string, taxonomyId: string): Promise<string> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    // the similarity index is not what this measures (and would make the seeding slow)
    await pool.query(`DROP INDEX IF EXISTS "${vectorIndexName(MODEL, DIM)}"`);
    await seed(pool, HISTORY, taxonomyId, 0.5);
    const sealer = new HistorySealer(new HistoryLogRepository(pool), key, quiet, { intervalMs: 0, batchSize: 5_000 });
    await sealer.start();
    const started = performance.now();
    const sealed = await sealer.sealAll();
    const rate = sealed / ((performance.now() - started) / 1000);
    return `${rate.toFixed(0)} leaves/s (${sealed.toLocaleString('en')} leaves)`;
  } finally {
    await pool.end();
  }
}

/** Starts an all-in-one process on `url` sealing every `sealMs` (0: never), runs `work` on its port, stops it. */
async function withProcess<T>(url: string, port: number, sealMs: number, work: (port: number) => Promise<T>) {
  const child = serve({
    DATABASE_URL: url,
    PORT: String(port),
    NEGLABEL_DATA_DIR: os.tmpdir(),
    NEGLABEL_HISTORY_SEAL_MS: String(sealMs),
    NEGLABEL_HISTORY_SIGNING_KEY: newSigningKeyPem(),
  });
  try {
    await ready(port);
    return await work(port);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/**
 * How long records wait to be leaves while 16 clients score: every 100 ms the pending ids are
 * looked up (so the lag is known to within that), until the run's last records are in too.
 */
async function checkpointLag(url: string, port: number, taxonomyId: string): Promise<number[]> {
  const pending = new Map<string, number>();
  const lags: number[] = [];
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  let scoring = true;
  const poller = (async () => {
    for (let idle = 0; scoring || (pending.size > 0 && idle < 50); idle += scoring ? 0 : 1) {
      await sleep(100);
      if (pending.size === 0) continue;
      const { rows } = await pool.query<{ id: string }>(
        "SELECT record_id::text AS id FROM history_log_leaves WHERE kind = 'scoring' AND record_id = ANY($1)",
        [[...pending.keys()]],
      );
      const now = performance.now();
      for (const { id } of rows) {
        lags.push(now - pending.get(id)!);
        pending.delete(id);
      }
    }
  })();
  await scoringThroughput([port], taxonomyId, 16, (ids, at) => {
    for (const id of ids) pending.set(id, at);
  });
  scoring = false;
  await poller;
  await pool.end();
  return lags;
}

/**
 * 3. scoring records/s with the sealer off and on (alternating, twice each, nothing else probing),
 * then a run that measures the checkpoint lag.
 */
async function sealerOnOff(backend: Backend): Promise<Record<string, string>> {
  const url = await backend.database();
  let port = 5800 + Math.floor(Math.random() * 500);
  const runs = { off: [] as number[], on: [] as number[] };
  const taxonomyId = await withProcess(url, ++port, 0, async (p) => {
    const id = await minedTaxonomy(p, 'bench');
    await graphql(p, SCORE, scoreRequest(id));
    return id;
  });
  for (let round = 0; round < 2; round++)
    for (const sealing of ['off', 'on'] as const)
      runs[sealing].push(
        await withProcess(url, ++port, sealing === 'on' ? 1000 : 0, async (p) => {
          await graphql(p, SCORE, scoreRequest(taxonomyId));
          return scoringThroughput([p], taxonomyId);
        }),
      );
  const lags = await withProcess(url, ++port, 1000, (p) => checkpointLag(url, p, taxonomyId));
  return {
    off: `${mean(runs.off).toFixed(0)} records/s (${runs.off.map((r) => r.toFixed(0)).join(', ')})`,
    on: `${mean(runs.on).toFixed(0)} records/s (${runs.on.map((r) => r.toFixed(0)).join(', ')})`,
    ratio: `${(mean(runs.on) / mean(runs.off)).toFixed(2)} (goal >= 0.95)`,
    lag: `p50 ${(median(lags) / 1000).toFixed(2)} s, p95 ${(p95(lags) / 1000).toFixed(2)} s (${lags.length} records)`,
  };
}

/** 4. proofs from a log of LOG_LEAVES synthetic leaves (SHA-256 of each position's 8 bytes). */
async function proofsAtScale(url: string): Promise<Record<string, string>> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    await applyMigrations(pool, path.join(ROOT, 'migrations'), () => {});
    log(`writing a log of ${LOG_LEAVES.toLocaleString('en')} leaves`);
    const started = performance.now();
    for (let at = 0; at < LOG_LEAVES; at += 1_000_000)
      await pool.query(
        `INSERT INTO history_log_leaves (position, kind, record_id, leaf_hash)
         SELECT g, 'scoring', g, sha256(int8send(g)) FROM generate_series($1::bigint, $2::bigint) g`,
        [at, Math.min(LOG_LEAVES, at + 1_000_000) - 1],
      );
    // the stored levels and the head, from the same leaves hashed here
    const frontier = Frontier.empty();
    const nodes: Array<[number, number, Buffer]> = [];
    const position = Buffer.alloc(8);
    for (let i = 0; i < LOG_LEAVES; i++) {
      position.writeBigInt64BE(BigInt(i));
      frontier.append(createHash('sha256').update(position).digest(), (level, index, hash) => {
        if (isStoredLevel(level)) nodes.push([level, index, hash]);
      });
    }
    for (let at = 0; at < nodes.length; at += 10_000) {
      const chunk = nodes.slice(at, at + 10_000);
      await pool.query(
        `INSERT INTO history_log_nodes (level, index, hash)
         SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
        [chunk.map((n) => n[0]), chunk.map((n) => n[1]), chunk.map((n) => n[2])],
      );
    }
    const repository = new HistoryLogRepository(pool);
    await repository.registerKey(key.keyId, key.publicKeyPem);
    const head = signCheckpoint(
      { treeSize: LOG_LEAVES, rootHash: frontier.root(), signedAt: new Date(), previousHash: null },
      key,
    );
    await pool.query(
      `INSERT INTO history_checkpoints (tree_size, root_hash, signed_at, previous_hash, key_id, signature, frontier,
         scoring_xid, scoring_id, audit_xid, audit_id) VALUES ($1, $2, $3, NULL, $4, $5, $6::bytea[], '0', 0, '0', 0)`,
      [LOG_LEAVES, head.rootHash, head.signedAt, head.keyId, head.signature, frontier.hashes],
    );
    const built = (performance.now() - started) / 1000;
    const service = new HistoryLogService(repository);
    const inclusion: number[] = [];
    let hashes = 0;
    for (let q = 0; q < 100; q++) {
      const leaf = (q * 2_654_435_761 + 12_345) % LOG_LEAVES;
      const t0 = performance.now();
      const proof = (await service.inclusionProof('scoring', String(leaf)))!;
      inclusion.push(performance.now() - t0);
      if (!verifyInclusion(proof.leafHash, leaf, LOG_LEAVES, proof.hashes, head.rootHash))
        throw new Error(`the inclusion proof of leaf ${leaf} does not verify`);
      hashes = proof.hashes.length;
    }
    const consistency: number[] = [];
    let consistencyHashes = 0;
    for (let q = 0; q < 20; q++) {
      const from = Math.floor((LOG_LEAVES * (q + 1)) / 23);
      const t0 = performance.now();
      const proof = await service.consistencyProof(from, LOG_LEAVES);
      consistency.push(performance.now() - t0);
      consistencyHashes = Math.max(consistencyHashes, proof.hashes.length);
      if (q >= 3) continue;
      // the first three are checked against the old head, rebuilt from the same leaf hashes
      const old = Frontier.empty();
      for (let i = 0; i < from; i++) {
        position.writeBigInt64BE(BigInt(i));
        old.append(createHash('sha256').update(position).digest());
      }
      if (!verifyConsistency(from, LOG_LEAVES, old.root(), head.rootHash, proof.hashes))
        throw new Error(`the consistency proof from ${from} does not verify`);
    }
    return {
      built: `${built.toFixed(0)} s to write`,
      inclusion: `${hashes} hashes (${hashes * 32} bytes); ${percentiles(inclusion)}`,
      consistency: `up to ${consistencyHashes} hashes (${consistencyHashes * 32} bytes); ${percentiles(consistency)}`,
    };
  } finally {
    await pool.end();
  }
}

const took = Date.now();
const compute = sealingCompute();
log(`sealing compute: ${compute}`);
const results: Array<[string, Record<string, string>]> = [];
for (const make of [postgresBackend, pgliteBackend]) {
  const backend = await make();
  try {
    const out: Record<string, string> = { compute };
    const url = await backend.database();
    const taxonomyId = await withProcess(url, 5700 + Math.floor(Math.random() * 90), 0, async (p) => {
      const id = await minedTaxonomy(p, 'seed');
      await graphql(p, SCORE, scoreRequest(id));
      return id;
    });
    log(`${backend.name}: sealing ${HISTORY} seeded records`);
    out.endToEnd = await sealingEndToEnd(url, taxonomyId);
    log(`${backend.name}: scoring with the sealer off and on`);
    Object.assign(out, await sealerOnOff(backend));
    if (backend.name.startsWith('PostgreSQL')) Object.assign(out, await proofsAtScale(await backend.database()));
    results.push([backend.name, out]);
  } finally {
    await backend.close();
  }
}
const rows: Array<[string, string]> = [
  ['sealing on one core: leaf hashes, tree and signature (100,000 realistic leaves)', 'compute'],
  [
    `sealing end to end: read, hash, write, rounds of 5,000 (${HISTORY.toLocaleString('en')} seeded records)`,
    'endToEnd',
  ],
  ['scoring through GraphQL, 16 clients × 8 images, sealer off (mean of 2 runs)', 'off'],
  ['… sealer on, sealing every second', 'on'],
  ['sealer on / off', 'ratio'],
  ['checkpoint lag while scoring: response to sealed leaf (polled every 100 ms)', 'lag'],
  [`log of ${LOG_LEAVES.toLocaleString('en')} leaves and its stored levels`, 'built'],
  ['inclusion proof at that size, 100 leaves', 'inclusion'],
  ['consistency proof to that size, 20 older sizes', 'consistency'],
];
comparisonTable(
  results,
  rows,
  `bench:history-log took ${((Date.now() - took) / 1000).toFixed(0)} s; the fixture model; PostgreSQL durable ` +
    '(fsync, synchronous commit on); the proofs at scale on PostgreSQL only.',
  'history-log',
);
