/**
 * The load test's health prober, in a thread of its own: like a load balancer's health checker it
 * has its own event loop, so its timings are the service's answers, not the wait for the clients'
 * JSON work (clients.ts). It runs at the normal priority, the clients lower: a balancer's checker
 * does not wait for the callers' CPU either. It still shares this machine's cores with the service.
 * Posts 'ready' once loaded; started with a `start` message; on `stop` posts its latencies and
 * failures and exits.
 */
import { parentPort } from 'node:worker_threads';
import { graphql, timed } from './requests.ts';

export interface ProberStart {
  type: 'start';
  apis: string[];
  key: string;
  probeMs: number;
}

export interface ProberResult {
  healthz: number[];
  health: number[];
  failures: string[];
}

let running = true;
const result: ProberResult = { healthz: [], health: [], failures: [] };

async function probe({ apis, key, probeMs }: ProberStart): Promise<void> {
  for (let i = 0; running; i++) {
    const api = apis[i % apis.length];
    await timed(result.healthz, result.failures, 'GET /healthz', async () => {
      const response = await fetch(`${api}/healthz`);
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      await response.text();
    });
    await timed(result.health, result.failures, 'health (GraphQL)', () => graphql(api, key, '{ health { status } }'));
    await new Promise((resolve) => setTimeout(resolve, probeMs));
  }
  parentPort!.postMessage(result);
}

let probing: Promise<void> | undefined;
parentPort!.on('message', (message: ProberStart | { type: 'stop' }) => {
  if (message.type === 'start') probing = probe(message);
  else {
    running = false;
    void probing?.then(() => parentPort!.close());
  }
});
parentPort!.postMessage('ready');
