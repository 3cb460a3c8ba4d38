/**
 * What the database benchmarks share: service processes started as the README's commands start
 * them (src/main.ts, the fixture model), their GraphQL, a mined taxonomy, scoring load, and the two
 * database backends (a durable throwaway PostgreSQL cluster, PGlite served by a `db` process).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { socketUrl } from '../../src/database/embedded-postgres.ts';
import { readMigrations } from '../../src/database/migrate.ts';
import type { NewScoringRecord } from '../../src/domain/scoring-record.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';
import { startThrowawayCluster, TEMPLATE_DATABASE } from '../postgres/cluster.ts';
import { writeReadmeSection } from '../readme-section.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const MODEL_DIR = path.join(ROOT, 'test/fixtures/clip-tiny-random');
export const MODEL = 'clip-tiny-random';
export const DIM = 32;
export const ADMIN = 'bench-admin-key-0123456789';
/** seconds of each timed run */
export const SECONDS = Number(process.env.SECONDS ?? 8);
export const IMAGES = ['rgb224.png', 'tiny8.png', 'gray256.png', 'rgba240.png'].map((f) =>
  readFileSync(path.join(MODEL_DIR, 'images', f)).toString('base64'),
);

export const log = (m: string) => console.error(`[${path.basename(process.argv[1] ?? 'bench', '.ts')}] ${m}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(0.95 * (xs.length - 1))];

export function serve(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NEGLABEL_MODEL_DIR: MODEL_DIR,
      NEGLABEL_MODELS_DIR: path.join(os.tmpdir(), 'neglabel-no-models'),
      NEGLABEL_ADMIN_KEY: ADMIN,
      NEGLABEL_RATE_LIMIT_PER_MINUTE: '0',
      NEGLABEL_MAX_IN_FLIGHT_PER_KEY: '0',
      NEGLABEL_ENCODER_WORKERS: '1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

export async function ready(port: number): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`port ${port} never became ready`);
}

export async function graphql(port: number, query: string, variables?: object): Promise<any> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

export async function minedTaxonomy(port: number, name: string): Promise<string> {
  const { createTaxonomy } = await graphql(
    port,
    'mutation($n: String!) { createTaxonomy(input: { name: $n, labels: ["cat", "dog", "owl"] }) { id } }',
    { n: name },
  );
  const corpus = ['car', 'house', 'tree', 'river', 'cloud', 'stone', 'chair', 'lamp', 'boat', 'bridge', 'road', 'hill']
    .map((text) => ({ text, partOfSpeech: 'NOUN' }))
    .concat(['red', 'quiet', 'tall', 'wet', 'slow', 'bright'].map((text) => ({ text, partOfSpeech: 'ADJECTIVE' })));
  const { startMining } = await graphql(port, 'mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
    i: { taxonomyId: createTaxonomy.id, corpus, selectionRatio: 0.5, groups: 1 },
  });
  for (;;) {
    const { miningJob } = await graphql(port, 'query($id: ID!) { miningJob(id: $id) { status error } }', {
      id: startMining.id,
    });
    if (miningJob.status === 'SUCCEEDED') return createTaxonomy.id;
    if (miningJob.status !== 'QUEUED' && miningJob.status !== 'RUNNING') throw new Error(miningJob.error);
    await sleep(100);
  }
}

export const scoreRequest = (taxonomyId: string) => ({
  i: { taxonomyId, images: [...IMAGES, ...IMAGES].map((data) => ({ data })) },
});
export const SCORE = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }';

/**
 * Records/s of `clients` clients scoring 8 images a request for SECONDS, spread over `ports`;
 * `onScored` hears each answer's record ids and when it arrived.
 */
export async function scoringThroughput(
  ports: number[],
  taxonomyId: string,
  clients = 16,
  onScored?: (recordIds: string[], at: number) => void,
): Promise<number> {
  let records = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (Date.now() < until) {
        const { scoreImages } = await graphql(ports[c % ports.length], SCORE, scoreRequest(taxonomyId));
        records += scoreImages.length;
        onScored?.(
          scoreImages.map((r: { recordId: string }) => r.recordId),
          performance.now(),
        );
      }
    }),
  );
  return records / SECONDS;
}

/** A template record of a mined taxonomy, to write copies of through the repository. */
export async function templateRecord(pool: pg.Pool, taxonomyId: string): Promise<NewScoringRecord> {
  const { rows } = await pool.query(
    `SELECT taxonomy_version_id AS v, negative_set_id AS s FROM scoring_records WHERE taxonomy_id = $1 LIMIT 1`,
    [taxonomyId],
  );
  return {
    caller: 'bench',
    taxonomyId,
    taxonomyVersionId: rows[0].v,
    negativeSetId: rows[0].s,
    modelId: MODEL,
    threshold: 0.5,
    thresholdSpace: 'SCORE',
    requested: null,
    imageHash: 'h',
    filename: null,
    sourceUrl: null,
    imageEmbedding: randomUnitVectors(1, DIM, 3),
    thumbnail: null,
    score: 0.5,
    logitScore: 0,
    isOod: false,
    predictedLabel: 'cat',
    topLabels: [],
    topNegatives: [],
    latencyMs: 1,
    adaptive: null,
  };
}

/** Copies the template record `n` times with random unit embeddings, `share` of them into `into`. */
export async function seed(pool: pg.Pool, n: number, into: string, share: number): Promise<void> {
  for (let done = 0; done < n; done += 20_000) {
    await pool.query(
      `INSERT INTO scoring_records (caller, taxonomy_id, taxonomy_version_id, negative_set_id, model_id, threshold,
         image_hash, image_embedding, score, logit_score, is_ood, predicted_label, top_labels, top_negatives,
         latency_ms, threshold_space)
       SELECT 'seed', CASE WHEN random() < $3 THEN $2::uuid ELSE r.taxonomy_id END, r.taxonomy_version_id,
         r.negative_set_id, r.model_id, r.threshold, r.image_hash, e.v, random(), 0, false, r.predicted_label,
         '[]', '[]', 1, r.threshold_space
       FROM (SELECT * FROM scoring_records WHERE caller <> 'seed' ORDER BY id LIMIT 1) r, generate_series(1, $1) g,
         LATERAL (SELECT array_agg(random() - 0.5)::vector AS v FROM generate_series(1, ${DIM}) WHERE g > 0) e`,
      [Math.min(20_000, n - done), into, share],
    );
  }
}

export interface Backend {
  name: string;
  /** a database URL for a fresh database, and how to serve it to several processes */
  database(): Promise<string>;
  close(): Promise<void>;
}

export async function postgresBackend(): Promise<Backend> {
  const cluster = await startThrowawayCluster({ durable: true });
  let n = 0;
  return {
    name: `PostgreSQL ${cluster.version.split(' ')[0]}`,
    async database() {
      const admin = new pg.Client(cluster.adminUrl);
      await admin.connect();
      await admin.query(`CREATE DATABASE bench_${++n} TEMPLATE ${TEMPLATE_DATABASE}`);
      await admin.end();
      return cluster.adminUrl.replace('/postgres?', `/bench_${n}?`);
    },
    close: () => cluster.stop(),
  };
}

export async function pgliteBackend(): Promise<Backend> {
  const dirs: string[] = [];
  const servers: ChildProcess[] = [];
  return {
    name: 'PGlite (embedded, db process)',
    async database() {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-bench-pglite-'));
      dirs.push(dir);
      servers.push(serve({ NEGLABEL_ROLE: 'db', NEGLABEL_DATA_DIR: dir, PORT: '0' }));
      const url = socketUrl(dir);
      // the db process applies the migrations itself: wait until they are all recorded
      const migrations = readMigrations(path.join(ROOT, 'migrations')).length;
      for (let i = 0; i < 1200; i++) {
        const client = new pg.Client(url);
        client.on('error', () => {});
        const applied = await client
          .connect()
          .then(() => client.query('SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL'))
          .then(
            (r) => r.rows[0].n as number,
            () => 0,
          );
        await client.end().catch(() => {});
        if (applied === migrations) break;
        await sleep(100);
      }
      return url;
    },
    async close() {
      for (const s of servers) s.kill('SIGTERM');
      await sleep(1000);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * The table of a database benchmark: one row per measured key, one column per backend, headed by
 * the machine's size, ending with `footer`; printed, and put in the README's `section` with
 * --write-readme.
 */
export function comparisonTable(
  results: Array<[string, Record<string, string>]>,
  rows: Array<[string, string]>,
  footer: string,
  section: string,
): void {
  const machine = `${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  const table = [
    `| measured (${machine}; ${SECONDS} s runs) | ${results.map(([n]) => n).join(' | ')} |`,
    `|---|${results.map(() => '---').join('|')}|`,
    ...rows.map(([label, key]) => `| ${label} | ${results.map(([, r]) => r[key] ?? '—').join(' | ')} |`),
    '',
    footer,
  ].join('\n');
  console.log(table);
  if (process.argv.includes('--write-readme')) writeReadmeSection(section, table);
}
