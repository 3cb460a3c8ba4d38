/**
 * The production shape: two `api` processes and two `worker` processes, all real (`src/main.ts`
 * with NEGLABEL_ROLE), sharing one database: on PGlite a `db` process serving the embedded
 * database over its Unix socket, on the Postgres pass a database of the test server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SOCKET_NAME, socketUrl } from '../../src/database/embedded-postgres.ts';
import { readMigrations } from '../../src/database/migrate.ts';
import { ADMIN_KEY, base64 } from '../helpers/app.ts';
import { createTestDatabase, onPostgres, type TestDatabase } from '../helpers/backend.ts';
import { fixtureImage } from '../helpers/fixtures.ts';
import { randomPort, startServer, stopServer, waitReady } from '../helpers/server-process.ts';

const LEASE_SECONDS = 3;
let dir: string;
let databaseUrl: string;
let serverDatabase: TestDatabase | undefined;
let sql: pg.Pool;
const processes: ChildProcess[] = [];
const apis: number[] = [];
const workers: ChildProcess[] = [];

async function graphql(port: number, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

function startWorker(): ChildProcess {
  const worker = startServer(0, dir, {
    NEGLABEL_ROLE: 'worker',
    DATABASE_URL: databaseUrl,
    NEGLABEL_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
    NEGLABEL_ENCODER_WORKERS: '1',
  });
  processes.push(worker);
  workers.push(worker);
  return worker;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-topology-'));
  const dataDir = path.join(dir, 'data');
  if (onPostgres) {
    serverDatabase = await createTestDatabase();
    databaseUrl = serverDatabase.url;
    sql = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  } else {
    databaseUrl = socketUrl(dataDir);
    processes.push(startServer(0, dataDir, { NEGLABEL_ROLE: 'db' }));
    const migrations = readMigrations(path.resolve('migrations')).length;
    for (let migrated = false; !migrated; await new Promise((resolve) => setTimeout(resolve, 100))) {
      if (!existsSync(path.join(dataDir, SOCKET_NAME))) continue;
      sql ??= new pg.Pool({ connectionString: databaseUrl, max: 1 });
      const rows = await sql
        .query('SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL')
        .catch(() => ({ rows: [{ n: 0 }] }));
      migrated = rows.rows[0].n === migrations;
    }
  }
  // the first API creates the bootstrap admin key; the second finds it
  for (let i = 0; i < 2; i++) {
    const port = randomPort() + i;
    processes.push(
      startServer(port, dir, {
        NEGLABEL_ROLE: 'api',
        DATABASE_URL: databaseUrl,
        NEGLABEL_ADMIN_KEY: ADMIN_KEY,
        NEGLABEL_ENCODER_WORKERS: '1',
      }),
    );
    await waitReady(port);
    apis.push(port);
  }
  startWorker();
  startWorker();
});

after(async () => {
  await sql?.end();
  for (const child of processes.reverse()) await stopServer(child);
  await serverDatabase?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const corpus = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ text: `${prefix} ${i}`, partOfSpeech: i % 4 ? 'NOUN' : 'ADJECTIVE' }));

async function createTaxonomy(port: number, name: string): Promise<string> {
  return (
    await graphql(
      port,
      'mutation($n: String!) { createTaxonomy(input: { name: $n, labels: ["cat", "dog", "hamster"] }) { id } }',
      { n: name },
    )
  ).createTaxonomy.id;
}

async function startMining(port: number, taxonomyId: string, words: number): Promise<string> {
  return (
    await graphql(
      port,
      'mutation($t: ID!, $c: [CorpusWordInput!]) { startMining(input: { taxonomyId: $t, corpus: $c, groups: 2 }) { ' +
        'id } }',
      { t: taxonomyId, c: corpus(words, taxonomyId) },
    )
  ).startMining.id;
}

async function waitForJob(port: number, id: string) {
  for (;;) {
    const { miningJob } = await graphql(port, 'query($id: ID!) { miningJob(id: $id) { status error attempts } }', {
      id,
    });
    if (!['QUEUED', 'RUNNING'].includes(miningJob.status))
      return miningJob as { status: string; error: string | null; attempts: number };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('jobs queued through either API run exactly once, on the workers', async () => {
  const taxonomies = await Promise.all([0, 1, 2, 3].map((i) => createTaxonomy(apis[i % 2], `topology-${i}`)));
  const jobs = await Promise.all(taxonomies.map((t, i) => startMining(apis[i % 2], t, 40)));
  for (const [i, id] of jobs.entries()) {
    const job = await waitForJob(apis[(i + 1) % 2], id);
    assert.equal(job.status, 'SUCCEEDED', job.error ?? '');
    assert.equal(job.attempts, 1, 'claimed once');
  }
  const { rows } = await sql.query(
    `SELECT v.taxonomy_id, count(s.id)::int AS sets, count(DISTINCT j.leased_by)::int AS holders
     FROM taxonomy_versions v JOIN negative_label_sets s ON s.taxonomy_version_id = v.id JOIN mining_jobs j
       ON j.taxonomy_version_id = v.id
     WHERE v.taxonomy_id = ANY($1::uuid[]) GROUP BY v.taxonomy_id`,
    [taxonomies],
  );
  assert.equal(rows.length, 4);
  for (const row of rows) assert.deepEqual([row.sets, row.holders], [1, 1], 'one set per job, written by one worker');
});

test(
  'a worker killed mid-job: the other worker takes the job over when the lease expires and ' + 'finishes it',
  async () => {
    const taxonomyId = await createTaxonomy(apis[0], 'survives-a-killed-worker');
    const jobId = await startMining(apis[1], taxonomyId, 12_000);
    let holder: string | null = null;
    while (!holder) {
      const { rows } = await sql.query(
        `SELECT leased_by FROM mining_jobs WHERE id = $1 AND status = 'RUNNING' AND phase = 'encoding-corpus'`,
        [jobId],
      );
      holder = rows[0]?.leased_by ?? null;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pid = Number(holder.split(':')[1]);
    const victim = workers.find((w) => w.pid === pid);
    assert.ok(victim, `the lease holder ${holder} is one of the two workers`);
    await stopServer(victim); // SIGKILL: no chance to hand the job back
    const job = await waitForJob(apis[0], jobId);
    assert.equal(job.status, 'SUCCEEDED', job.error ?? '');
    assert.equal(job.attempts, 2, 'taken over once');
    const { rows } = await sql.query('SELECT leased_by FROM mining_jobs WHERE id = $1', [jobId]);
    assert.notEqual(rows[0].leased_by, holder, 'finished by the other worker');
    startWorker(); // back to two for what follows
  },
);

test(
  'concurrent scoring through both APIs loses nothing, and paging the history returns every ' + 'record once',
  async () => {
    const taxonomyId = await createTaxonomy(apis[0], 'scored-by-two-apis');
    assert.equal((await waitForJob(apis[0], await startMining(apis[0], taxonomyId, 40))).status, 'SUCCEEDED');
    const images = ['images/rgb224.png', 'images/tiny8.png'].map((file) => ({ data: base64(fixtureImage(file)) }));
    const requests = 12;
    await Promise.all(
      Array.from({ length: requests }, (_, i) =>
        graphql(apis[i % 2], 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
          i: { taxonomyId, images },
        }),
      ),
    );
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const data: any = await graphql(
        apis[page % 2],
        'query($t: ID!, $a: String) { scoringRecords(filter: { taxonomyId: $t }, first: 5, after: $a) { edges { node ' +
          '{ id } } pageInfo { hasNextPage endCursor } } }',
        { t: taxonomyId, a: after },
      );
      seen.push(...data.scoringRecords.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!data.scoringRecords.pageInfo.hasNextPage) break;
      after = data.scoringRecords.pageInfo.endCursor;
    }
    assert.equal(seen.length, requests * images.length);
    assert.equal(new Set(seen).size, seen.length, 'no record twice');
  },
);
