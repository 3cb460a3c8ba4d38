/**
 * What only a PostgreSQL server with many backends shows (this file runs on the Postgres pass
 * only, see tools/test/run.ts): several service processes on one database, sessions that overlap,
 * locks, roles and timeouts. Each test failed on the code before its fix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { startApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { ScoringRecordRepository, vectorIndexName } from '../../src/repositories/scoring-record-repository.ts';
import { ADMIN_KEY, base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { createTestDatabase, onPostgres, type TestDatabase } from '../helpers/backend.ts';
import { FIXTURE_MODEL_DIR, fixtureImage } from '../helpers/fixtures.ts';

const MODEL = 'clip-tiny-random';
const DIM = 32;
const image = (file: string) => ({ data: base64(fixtureImage(file)), filename: file });

let db: TestDatabase;
let sql: pg.Pool;
let app: TestApp;
let taxonomyId: string;

before(async () => {
  assert.ok(onPostgres, 'server-* tests need the Postgres pass (npm test runs it)');
  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url, max: 4 });
  app = await startTestApp({ DATABASE_URL: db.url, NEGLABEL_JOB_POLL_MS: '50' });
  taxonomyId = await createMinedTaxonomy(app, 'pets');
  await score(app, taxonomyId, ['images/rgb224.png']);
});

after(async () => {
  await app?.close();
  await sql?.end();
  await db?.drop();
});

async function score(target: TestApp, taxonomy: string, files: string[]): Promise<string[]> {
  const result = await target.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
    i: { taxonomyId: taxonomy, images: files.map(image) },
  });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data.scoreImages.map((r: { recordId: string }) => r.recordId);
}

/**
 * Copies a scored record `n` times with random embeddings (optionally into another taxonomy) in
 * one statement per 20k, on `client` (a transaction of the caller's, if it opened one).
 */
async function seedRecords(client: pg.Pool | pg.PoolClient, n: number, into?: string): Promise<void> {
  for (let done = 0; done < n; done += 20_000) {
    await client.query(
      `INSERT INTO scoring_records (caller, taxonomy_id, taxonomy_version_id, negative_set_id, model_id, threshold,
         image_hash, filename, image_embedding, score, logit_score, is_ood, predicted_label, top_labels,
         top_negatives, latency_ms, threshold_space)
       SELECT 'seed', COALESCE($2::uuid, r.taxonomy_id), r.taxonomy_version_id, r.negative_set_id, r.model_id,
         r.threshold, r.image_hash, r.filename, e.v, random(), 0, false, r.predicted_label, r.top_labels,
         r.top_negatives, 1, r.threshold_space
       FROM (SELECT * FROM scoring_records WHERE model_id = '${MODEL}' ORDER BY id LIMIT 1) r,
         generate_series(1, $1) g,
         LATERAL (SELECT array_agg(random() - 0.5)::vector AS v FROM generate_series(1, ${DIM}) WHERE g > 0) e`,
      [Math.min(20_000, n - done), into ?? null],
    );
  }
}

async function indexState(): Promise<boolean | undefined> {
  const { rows } = await sql.query(
    'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1',
    [vectorIndexName(MODEL, DIM)],
  );
  return rows[0]?.valid;
}

test('a new process on a large history answers at once while its similarity index builds concurrently', async () => {
  await sql.query(`DROP INDEX IF EXISTS "${vectorIndexName(MODEL, DIM)}"`);
  await seedRecords(sql, 100_000);
  const second = await startTestApp({ DATABASE_URL: db.url });
  try {
    const started = Date.now();
    await score(second, taxonomyId, ['images/tiny8.png']);
    const firstRequestMs = Date.now() - started;
    // the build runs meanwhile, in a session of its own that takes no lock inserts wait for
    const { rows: building } = await sql.query(
      `SELECT a.application_name, l.mode FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid
         AND l.relation = 'scoring_records'::regclass
       WHERE a.query ILIKE 'CREATE INDEX CONCURRENTLY%'`,
    );
    assert.ok(building.length > 0, 'the index build is running after the first request answered');
    assert.match(building[0].application_name, /^neglabel all pid \d+ ddl$/);
    assert.ok(
      building.every((b) => b.mode === null || b.mode === 'ShareUpdateExclusiveLock'),
      JSON.stringify(building),
    );
    // another process does not build it a second time
    const other = new ScoringRecordRepository(sql, app.database.ddl, true);
    assert.equal(await other.ensureVectorIndex(MODEL, DIM), 'busy');
    // and a scoring request through the first process is not held up either
    const during = Date.now();
    await score(app, taxonomyId, ['images/tiny8.png']);
    assert.ok(Date.now() - during < 5_000, `scored in ${Date.now() - during} ms during the build`);
    let waited = 0;
    while ((await indexState()) !== true && waited < 300_000) {
      await new Promise((r) => setTimeout(r, 200));
      waited += 200;
    }
    assert.equal(await indexState(), true, 'the index is built and valid');
    assert.ok(firstRequestMs < waited, `first request ${firstRequestMs} ms, build ${waited} ms more`);
  } finally {
    await second.close();
  }
});

test('similarScoringRecords returns min(first, matching) records for every filter, nearest first', async () => {
  // a small taxonomy (2-3 % of the history) beside the large one seeded above
  const small = await createMinedTaxonomy(app, 'small', ['owl', 'hawk', 'eagle']);
  await score(app, small, ['images/rgb224.png']);
  await seedRecords(sql, 2_500, small);
  assert.equal(await indexState(), true);
  const query = async (first: number, taxonomy?: string) => {
    const result = await app.graphql(
      'query($f: Int, $t: ID) { similarScoringRecords(text: "a photo of a cat", first: $f, taxonomyId: $t) { ' +
        'similarity record { id taxonomyId } } }',
      { f: first, t: taxonomy ?? null },
    );
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    return result.data.similarScoringRecords as Array<{ similarity: number; record: { taxonomyId: string } }>;
  };
  for (const first of [5, 50, 100]) {
    for (const taxonomy of [undefined, small, taxonomyId]) {
      const rows = await query(first, taxonomy);
      assert.equal(rows.length, first, `first ${first}, taxonomy ${taxonomy ?? 'any'}`);
      if (taxonomy) assert.ok(rows.every((r) => r.record.taxonomyId === taxonomy));
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].similarity >= rows[i].similarity, 'nearest first');
    }
  }
  // a taxonomy with fewer records than asked: all of them
  const tiny = await createMinedTaxonomy(app, 'tiny', ['fern', 'moss', 'ivy']);
  await score(app, tiny, ['images/rgb224.png', 'images/tiny8.png']);
  assert.equal((await query(100, tiny)).length, 2);
});

test('a role that cannot be set stops the start with one line; each timeout is set on its own', async () => {
  const config = (env: Record<string, string>) =>
    loadConfig({
      PORT: '0',
      NEGLABEL_MODEL_DIR: FIXTURE_MODEL_DIR,
      NEGLABEL_DATA_DIR: app.dataDir,
      DATABASE_URL: db.url,
      LOG_LEVEL: 'silent',
      NEGLABEL_ADMIN_KEY: ADMIN_KEY,
      ...env,
    });
  await assert.rejects(
    startApp(config({ NEGLABEL_DATABASE_ROLE: 'no_such_role' }), createLogger('silent')),
    (error: Error) =>
      /^NEGLABEL_DATABASE_ROLE=no_such_role could not be set on a database connection \(.*no_such_role.*\): /.test(
        error.message,
      ) && !error.message.includes('\n'),
  );
  const started = await startApp(
    config({ NEGLABEL_DB_STATEMENT_TIMEOUT_MS: '0', NEGLABEL_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '1500' }),
    createLogger('silent'),
  );
  try {
    const { rows } = await started.database.pool.query(
      "SELECT current_setting('statement_timeout') AS s, current_setting('idle_in_transaction_session_timeout') " +
        "AS i, current_setting('application_name') AS a",
    );
    assert.deepEqual(rows[0], { s: '0', i: '1500ms', a: `neglabel all pid ${process.pid}` });
  } finally {
    await started.close();
  }
});

test('open mode, the bootstrap key and identical mining calls are decided in the database', async () => {
  const shared = await createTestDatabase();
  const open = [
    await startTestApp({ DATABASE_URL: shared.url, NEGLABEL_ADMIN_KEY: '' }),
    await startTestApp({ DATABASE_URL: shared.url, NEGLABEL_ADMIN_KEY: '' }),
  ];
  try {
    const anonymous = (target: TestApp, query: string) => target.graphql(query, {}, { authorization: '' });
    const created = await anonymous(
      open[0],
      'mutation { createApiKey(input: { name: "first", role: ADMIN }) { key } }',
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const second = await anonymous(
      open[1],
      'mutation { createApiKey(input: { name: "second", role: ADMIN }) { key } }',
    );
    assert.equal(second.errors?.[0].extensions.code, 'UNAUTHENTICATED', 'open mode ended for the other process too');
    const { rows } = await sql.query('SELECT 1'); // the test's own pool still answers
    assert.equal(rows.length, 1);
  } finally {
    for (const a of open) await a.close();
    await shared.drop();
  }
  // processes starting together with the same bootstrap key (compose starts replicas at once)
  for (let trial = 0; trial < 4; trial++) {
    const fresh = await createTestDatabase();
    try {
      const apps = await Promise.all([0, 1].map(() => startTestApp({ DATABASE_URL: fresh.url })));
      for (const a of apps) await a.close();
      const keys = new pg.Client(fresh.url);
      await keys.connect();
      assert.equal((await keys.query('SELECT count(*)::int AS n FROM api_keys')).rows[0].n, 1);
      await keys.end();
    } finally {
      await fresh.drop();
    }
  }
  // identical startMining calls through two processes: one job
  const other = await startTestApp({ DATABASE_URL: db.url });
  try {
    const fresh = await app.graphql('mutation { createTaxonomy(input: { name: "raced", labels: ["a", "b"] }) { id } }');
    const corpus = ['car', 'tree', 'lamp', 'boat'].map((text) => ({ text, partOfSpeech: 'NOUN' }));
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? other : app)
          .graphql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
            i: { taxonomyId: fresh.data.createTaxonomy.id, corpus, selectionRatio: 0.5, groups: 1 },
          })
          .then((r) => {
            assert.equal(r.errors, undefined, JSON.stringify(r.errors));
            return r.data.startMining.id as string;
          }),
      ),
    );
    assert.equal(new Set(ids).size, 1, `one job for six identical calls: ${[...new Set(ids)]}`);
  } finally {
    await other.close();
  }
});

test('a lost LISTEN connection is opened again', async () => {
  const listening = () =>
    sql.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '% listen' " +
        "AND query ILIKE 'LISTEN%'",
    );
  const before = (await listening()).rows;
  assert.equal(before.length, 1, 'the all-in-one process listens for queued jobs');
  await sql.query('SELECT pg_terminate_backend($1)', [before[0].pid]);
  let after: Array<{ pid: number }> = [];
  for (let i = 0; i < 100 && after.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = (await listening()).rows;
  }
  assert.equal(after.length, 1, 'listening again within 10 s');
  assert.notEqual(after[0].pid, before[0].pid);
});

/**
 * A follower of the history as dashboards poll it: the newest page, until it reaches what it saw
 * last. It must never miss a record, whatever the commit order.
 */
function follower(read: () => Promise<Array<{ id: string }>>) {
  const seen = new Set<string>();
  return {
    seen,
    async poll() {
      for (const row of await read()) {
        if (seen.has(row.id)) break;
        seen.add(row.id);
      }
    },
  };
}

test('a record committed after a later one is never skipped by a follower of the history or audit log', async () => {
  const records = follower(async () => {
    const r = await app.graphql('{ scoringRecords(first: 50) { edges { node { id } } } }');
    return r.data.scoringRecords.edges.map((e: { node: { id: string } }) => e.node);
  });
  const audit = follower(async () => {
    const r = await app.graphql('{ auditLog(first: 50) { edges { node { id } } } }');
    return r.data.auditLog.edges.map((e: { node: { id: string } }) => e.node);
  });
  await records.poll();
  await audit.poll();
  // a slow writer takes the lower ids and has not committed yet
  const slow = await sql.connect();
  await slow.query('BEGIN');
  await seedRecords(slow, 1);
  const held = (await slow.query("SELECT max(id)::text AS id FROM scoring_records WHERE caller = 'seed'")).rows[0].id;
  const heldAudit = (
    await slow.query("INSERT INTO audit_log (actor, action) VALUES ('slow', 'test') RETURNING id::text AS id")
  ).rows[0].id;
  // a fast one commits higher ids meanwhile, and the followers poll
  const [fast] = await score(app, taxonomyId, ['images/tiny8.png']);
  await app.graphql('mutation { createApiKey(input: { name: "fast", role: AUDITOR }) { key } }');
  assert.ok(BigInt(fast) > BigInt(held));
  await records.poll();
  await audit.poll();
  await slow.query('COMMIT');
  slow.release();
  await records.poll();
  await audit.poll();
  assert.ok(records.seen.has(fast) && records.seen.has(held), 'both records seen');
  assert.ok(audit.seen.has(heldAudit), 'the slow audit entry seen');
});

test('under 16 concurrent writers a follower sees every record; a memory snapshot keeps its members', async () => {
  const records = app.database.pool;
  const repository = new ScoringRecordRepository(records, app.database.ddl, true);
  const key = (
    await sql.query(
      `SELECT taxonomy_version_id AS v, negative_set_id AS s FROM scoring_records WHERE taxonomy_id = $1 LIMIT 1`,
      [taxonomyId],
    )
  ).rows[0];
  const snapshot = await repository.latestId();
  const members = await repository.memoryCandidatesAt(key.v, key.s, MODEL, snapshot, 1_000_000);
  const start = (await sql.query('SELECT max(id) AS id FROM scoring_records')).rows[0].id;
  const tail = follower(async () => {
    const { rows } = await repository.page({}, 2000, null);
    return rows;
  });
  await tail.poll();
  let writing = true;
  const writers = Array.from({ length: 16 }, async () => {
    const writer = new pg.Pool({ connectionString: db.url, max: 1 });
    for (let i = 0; i < 15; i++) {
      const client = await writer.connect();
      await client.query('BEGIN');
      await seedRecords(client, 8, taxonomyId);
      await new Promise((r) => setTimeout(r, Math.random() * 20)); // commits overtake each other
      await client.query('COMMIT');
      client.release();
    }
    await writer.end();
  });
  const polling = (async () => {
    while (writing) {
      await tail.poll();
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await Promise.all(writers);
  writing = false;
  await polling;
  await tail.poll();
  const { rows } = await sql.query('SELECT id::text AS id FROM scoring_records WHERE id > $1', [start]);
  assert.equal(rows.length, 16 * 15 * 8);
  const missed = rows.filter((r) => !tail.seen.has(r.id));
  assert.equal(missed.length, 0, `the follower missed ${missed.length} records`);
  // the snapshot taken before the writers still names exactly the records it drew from
  assert.deepEqual(await repository.memoryCandidatesAt(key.v, key.s, MODEL, snapshot, 1_000_000), members);
});
