/**
 * Pushed updates with a real graphql-ws client over a real WebSocket on the service's port: a
 * mining job's progress until it ends, a taxonomy's records as they are scored, and the same
 * admission as HTTP (no key, a scorer, a key of another taxonomy, an unknown id, a query).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_KEY, base64, createMinedTaxonomy, startTestApp, TEST_CORPUS, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
let taxonomyId: string;
const clients: Client[] = [];

before(async () => {
  app = await startTestApp();
  taxonomyId = await createMinedTaxonomy(app, 'pets');
});
after(async () => {
  for (const client of clients) await client.dispose();
  await app.close();
});

function connect(key: string | null): Client {
  const client = createClient({
    url: `${app.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

/** One event's data, read field by field as each subscription selects it. */
// biome-ignore lint/suspicious/noExplicitAny: the shape is the subscription's, not a type of ours
type Event = any;

interface Outcome {
  data: Event[];
  errors: Array<{ message: string; extensions?: { code?: string } }>;
}

/** Subscribes, collecting events until `enough` says so (or the stream ends); then unsubscribes. */
function collect(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  enough: (events: Event[]) => boolean = () => false,
): { outcome: Promise<Outcome>; subscribed: Promise<void> } {
  const outcome: Outcome = { data: [], errors: [] };
  let started: () => void;
  const subscribed = new Promise<void>((resolve) => (started = resolve));
  const done = new Promise<Outcome>((resolve, reject) => {
    const stop = client.subscribe(
      { query, variables },
      {
        next: (value) => {
          if (value.errors) outcome.errors.push(...(value.errors as Outcome['errors']));
          if (value.data) outcome.data.push(value.data);
          if (enough(outcome.data)) {
            stop();
            resolve(outcome);
          }
        },
        error: (error) => {
          if (Array.isArray(error)) {
            outcome.errors.push(...error);
            resolve(outcome);
          } else reject(error);
        },
        complete: () => resolve(outcome),
      },
    );
    // the server reads the history's newest position when the subscription starts
    setTimeout(() => started(), 500);
  });
  return { outcome: done, subscribed };
}

const RECORDS = 'subscription($t: ID!) { scoringRecordAdded(taxonomyId: $t) { id score isOOD filename caller } }';

test("a taxonomy's records arrive as they are scored, each once, in the history's order", async () => {
  const { outcome, subscribed } = collect(
    connect(ADMIN_KEY),
    RECORDS,
    { t: taxonomyId },
    (events) => events.length >= 3,
  );
  await subscribed;
  const scored = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
    i: {
      taxonomyId,
      images: ['images/rgb224.png', 'images/tiny8.png', 'images/gray256.png'].map((f) => ({
        data: base64(fixtureImage(f)),
        filename: f,
      })),
    },
  });
  assert.equal(scored.errors, undefined);
  const { data, errors } = await outcome;
  assert.deepEqual(errors, []);
  assert.deepEqual(
    data.map((d) => d.scoringRecordAdded.id),
    scored.data.scoreImages.map((r: { recordId: string }) => r.recordId),
  );
  assert.deepEqual(
    data.map((d) => d.scoringRecordAdded.filename),
    ['images/rgb224.png', 'images/tiny8.png', 'images/gray256.png'],
  );
});

test('a mining job is followed from its first state to its end, with progress on the way', async () => {
  const started = await app.graphql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
    i: {
      taxonomyId,
      force: true,
      corpus: TEST_CORPUS,
      selectionRatio: 0.4,
      groups: 2,
    },
  });
  assert.equal(started.errors, undefined, JSON.stringify(started.errors));
  const { outcome } = collect(
    connect(ADMIN_KEY),
    'subscription($id: ID!) { miningJobUpdated(id: $id) { id status phase done total error } }',
    { id: started.data.startMining.id },
  );
  const { data, errors } = await outcome;
  assert.deepEqual(errors, []);
  const statuses = data.map((d) => d.miningJobUpdated.status);
  assert.ok(data.length >= 2, `${data.length} updates`);
  assert.equal(statuses.at(-1), 'SUCCEEDED', `the stream ends with the job: ${JSON.stringify(data.at(-1))}`);
  assert.ok(['QUEUED', 'RUNNING'].includes(statuses[0]));
  const states = data.map((d) => JSON.stringify(d.miningJobUpdated));
  assert.equal(new Set(states).size, states.length, 'each update is a change');
});

test('subscriptions are admitted as over HTTP: key, role, scope, existence, and subscriptions only', async () => {
  const code = async (key: string | null, query: string, variables: Record<string, unknown>) => {
    const { errors } = await collect(connect(key), query, variables).outcome;
    return errors[0]?.extensions?.code;
  };
  assert.equal(await code(null, RECORDS, { t: taxonomyId }), 'UNAUTHENTICATED');
  const keyOf = async (input: string) =>
    (await app.graphql(`mutation { createApiKey(input: ${input}) { key } }`)).data.createApiKey.key;
  const scorer = await keyOf('{ name: "ws scorer", role: SCORER }');
  assert.equal(await code(scorer, RECORDS, { t: taxonomyId }), 'FORBIDDEN');
  const other = (await app.graphql('mutation { createTaxonomy(input: { name: "other", labels: ["a", "b"] }) { id } }'))
    .data.createTaxonomy.id;
  const scoped = await keyOf(`{ name: "ws scoped", role: AUDITOR, taxonomyIds: ["${other}"] }`);
  assert.equal(await code(scoped, RECORDS, { t: taxonomyId }), 'NOT_FOUND', 'another taxonomy looks missing');
  assert.equal(await code(ADMIN_KEY, RECORDS, { t: '00000000-0000-4000-8000-000000000000' }), 'NOT_FOUND');
  assert.equal(
    await code(ADMIN_KEY, 'subscription($id: ID!) { miningJobUpdated(id: $id) { id } }', { id: 'nope' }),
    'NOT_FOUND',
  );
  assert.equal(await code(ADMIN_KEY, '{ health { status } }', {}), 'BAD_REQUEST');
});
