/**
 * Request deadlines and batching visibility over real HTTP: work whose deadline passes while it
 * waits behind a busy encoder is dropped before it reaches a session (DEADLINE_EXCEEDED), counted,
 * and the metrics show how batches formed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.ts';
import { onPostgres } from '../helpers/backend.ts';

let app: TestApp;
before(async () => {
  // one worker, one image per run, no cache: a large request keeps the encoder busy for a while
  app = await startTestApp({
    NEGLABEL_ENCODER_WORKERS: '1',
    NEGLABEL_BATCH_MAX_SIZE: '1',
    NEGLABEL_EMBEDDING_CACHE_ENTRIES: '0',
  });
});
after(() => app.close());

/** Distinct noise JPEGs: large ones take the worker a while to decode and resample. */
async function noiseImages(count: number, seed: number, width: number): Promise<Array<{ data: string }>> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const jpeg = await sharp({
        create: {
          width,
          height: (width * 3) / 4,
          channels: 3,
          background: '#808080',
          noise: { type: 'gaussian', mean: 128 + ((seed * 31 + i) % 64), sigma: 40 },
        },
      })
        .jpeg()
        .toBuffer();
      return { data: jpeg.toString('base64') };
    }),
  );
}

const EMBED = 'query($i: [ImageInput!]!) { embedImages(images: $i) }';

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && line.includes('kind="image"'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

test('work whose deadline passes in the queue is shed with DEADLINE_EXCEEDED; the rest completes', async () => {
  const busy = await noiseImages(16, 1, 1600);
  const [late] = await noiseImages(1, 2, 320);
  const shedBefore = await metric('neglabel_encoder_deadline_shed_total');
  const runsBefore = app.services.encoder.stats().imageRuns;
  const slow = app.graphql(EMBED, { i: busy });
  // once the busy request's first run is done, the rest of it waits in the encoder's queue
  while (app.services.encoder.stats().imageRuns === runsBefore) await new Promise((r) => setTimeout(r, 5));
  const started = Date.now();
  const hurried = await app.graphql(EMBED, { i: [late] }, { 'x-request-timeout-ms': '200' });
  assert.equal(hurried.errors?.[0].extensions.code, 'DEADLINE_EXCEEDED', JSON.stringify(hurried.errors));
  const slowResult = await slow;
  assert.equal(slowResult.errors, undefined, 'the request without a deadline completes');
  assert.equal(slowResult.data.embedImages.length, 16);
  assert.ok(Date.now() - started > 200, 'the busy request outlasted the deadline, so the shed one waited');
  assert.equal(await metric('neglabel_encoder_deadline_shed_total'), shedBefore + 1);
  // the same image with time enough is embedded: nothing about the failure was remembered
  const relaxed = await app.graphql(EMBED, { i: [late] }, { 'x-request-timeout-ms': '60000' });
  assert.equal(relaxed.errors, undefined);
});

test('the metrics show batch sizes, queue time and compute time per model and kind', async () => {
  await app.graphql(EMBED, { i: await noiseImages(3, 3, 320) });
  const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
  for (const name of [
    'neglabel_encoder_batch_size_count',
    'neglabel_encoder_queue_seconds_count',
    'neglabel_encoder_compute_seconds_count',
  ]) {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{model="clip-tiny-random",kind="image"}`));
    assert.ok(line && Number(line.split(' ').at(-1)) > 0, `${name}: ${line}`);
  }
  // batches of one here: every run's size is 1
  const sizeOne = text
    .split('\n')
    .find(
      (l) => l.startsWith('neglabel_encoder_batch_size_bucket') && l.includes('le="1"') && l.includes('kind="image"'),
    );
  const count = text
    .split('\n')
    .find((l) => l.startsWith('neglabel_encoder_batch_size_count') && l.includes('kind="image"'));
  assert.equal(sizeOne?.split(' ').at(-1), count?.split(' ').at(-1));
});

test('a malformed x-request-timeout-ms is refused before any work, in the format of the route', async () => {
  const graphql = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${ADMIN_KEY}`,
      'x-request-timeout-ms': 'soon',
    },
    body: JSON.stringify({ query: '{ me { name } }' }),
  });
  assert.equal(graphql.status, 400);
  assert.equal(((await graphql.json()) as any).errors[0].extensions.code, 'INVALID_PARAMETER');
  const openai = await fetch(`${app.url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, 'x-request-timeout-ms': '-5' },
    body: JSON.stringify({ input: 'a cat' }),
  });
  assert.equal(openai.status, 400);
  assert.equal(((await openai.json()) as any).error.code, 'INVALID_PARAMETER');
});

test("a request's deadline covers its database waits: no late answer, and the connection is clean after", async () => {
  // another session holds the taxonomies table (on PGlite its one backend) for 2.5 s
  const holder = await app.database.pool.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE taxonomies IN ACCESS EXCLUSIVE MODE');
  let released = false;
  const release = new Promise<void>((resolve) =>
    setTimeout(async () => {
      released = true;
      await holder.query('ROLLBACK');
      holder.release();
      resolve();
    }, 2500),
  );
  try {
    const answer = await app.graphql(
      '{ taxonomies { edges { node { id } } } }',
      {},
      {
        'x-request-timeout-ms': '1000',
      },
    );
    assert.equal(answer.errors?.[0]?.extensions?.code, 'DEADLINE_EXCEEDED', JSON.stringify(answer));
    assert.equal(answer.data?.taxonomies ?? null, null, 'no data after the deadline');
    // a server cancels the waiting statement at the deadline; PGlite cannot interrupt one, so
    // there the statement is refused when the backend comes free, still before any data is read
    if (onPostgres) assert.equal(released, false, 'answered while the lock was still held');
  } finally {
    await release;
  }
  // the connections carry no leftover timeout: a request without a short deadline is answered
  const after = await app.graphql('{ taxonomies { edges { node { id } } } }');
  assert.deepEqual(after.errors, undefined, JSON.stringify(after));
});
