/**
 * The load test's clients, in a thread of their own at a lower CPU priority. They stand in for
 * other machines: in production the services calling this one do not run on its cores. Here they
 * would take their share at the service's own priority (the load generator measured ~18 % of a
 * core: JSON and base64 work for 16 clients), and every answer would also wait for them. At nice
 * 10 they get the cycles the service leaves; the offered load does not drop, since they mostly wait
 * for answers (side by side: 106 and 111 req/s at nice 10, 108 and 114 at nice 0).
 * `LOADTEST_CLIENT_NICE=0` runs them at the service's priority.
 * Posts 'ready' once loaded; started with a `start` message; posts its latencies and failures when
 * done.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../../src/lib/thread-priority.ts';
import { graphql, timed } from './requests.ts';

export interface ClientsStart {
  apis: string[];
  /** one API key per client */
  keys: string[];
  taxonomyId: string;
  requests: number;
  maxSeconds: number;
  nice: number;
}

type Operation = 'scoreImages' | 'scoringRecords' | 'scoringStats';

export interface ClientsResult {
  latencies: Record<Operation, number[]>;
  failures: string[];
}

const images = ['rgb224.png', 'rgb640x480.jpg', 'rgb300x200.png', 'gray256.png', 'rgba240.png', 'tiny8.png'].map((f) =>
  readFileSync(path.join('test/fixtures/clip-tiny-random/images', f)),
);

// four scoring requests to two history pages and one stats query
const MIX = [
  'scoreImages',
  'scoreImages',
  'scoreImages',
  'scoreImages',
  'scoringRecords',
  'scoringRecords',
  'scoringStats',
] as const;

async function run({ apis, keys, taxonomyId, requests, maxSeconds, nice }: ClientsStart): Promise<ClientsResult> {
  lowerThisThreadPriority(nice);
  let next = 0;
  const gql = (key: string, query: string, variables: object) =>
    graphql(apis[next++ % apis.length], key, query, variables);
  const operations: Record<Operation, (key: string) => Promise<unknown>> = {
    scoreImages: (key) =>
      gql(key, 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score isOOD recordId } }', {
        i: {
          taxonomyId,
          // a different image every time: a cache of embeddings by content would not help
          images: [
            {
              data: Buffer.concat([
                images[Math.floor(Math.random() * images.length)],
                Buffer.from(String(Math.random())),
              ]).toString('base64'),
            },
          ],
        },
      }),
    scoringRecords: (key) =>
      gql(
        key,
        'query($t: ID!) { scoringRecords(filter: { taxonomyId: $t, decision: OOD }, first: 20) { edges { node { ' +
          'id score } } } }',
        { t: taxonomyId },
      ),
    scoringStats: (key) =>
      gql(key, 'query($t: ID!) { scoringStats(filter: { taxonomyId: $t }, interval: HOUR) { total oodRate } }', {
        t: taxonomyId,
      }),
  };
  const result: ClientsResult = {
    latencies: { scoreImages: [], scoringRecords: [], scoringStats: [] },
    failures: [],
  };
  let issued = 0;
  const deadline = performance.now() + maxSeconds * 1000;
  await Promise.all(
    keys.map(async (key) => {
      while (issued < requests && performance.now() < deadline) {
        const name = MIX[issued++ % MIX.length];
        await timed(result.latencies[name], result.failures, name, () => operations[name](key));
      }
    }),
  );
  return result;
}

parentPort!.once('message', async (message: ClientsStart) => {
  parentPort!.postMessage(await run(message));
  parentPort!.close();
});
parentPort!.postMessage('ready');
