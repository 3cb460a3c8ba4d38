/**
 * `npm run loadtest`: the service as real processes (`src/main.ts`), in two shapes — all-in-one
 * (`npm start`, also run with the clients at nice 0), and db + two API + one worker processes on
 * the embedded database — each under CLIENTS concurrent clients mixing scoring, history queries
 * and stats while a mining job runs.
 * A separate prober (its own thread: prober.ts) measures what a load balancer and a dashboard see
 * meanwhile: `GET /healthz` and the GraphQL `health` query, every PROBE_MS. Bounded in requests
 * and time; prints latency percentiles, throughput, failures, lost records and the peak RSS of
 * the service processes.
 * Each client is a service with its own API key, as in production; the clients run in clients.ts.
 * LOADTEST_SHAPE=all (or db) runs those shapes only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOCKET_NAME, socketUrl } from '../../src/database/embedded-postgres.ts';
import { writeReadmeSection } from '../readme-section.ts';
import { startTsWorker } from '../../src/lib/ts-worker.ts';
import type { Worker } from 'node:worker_threads';
import type { ProberResult, ProberStart } from './prober.ts';
import type { ClientsResult, ClientsStart } from './clients.ts';
import { graphql } from './requests.ts';

const CLIENTS = Number(process.env.CLIENTS ?? 16);
const REQUESTS = Number(process.env.REQUESTS ?? 2000);
const MAX_SECONDS = Number(process.env.MAX_SECONDS ?? 300);
const PROBE_MS = Number(process.env.PROBE_MS ?? 50);
const CLIENT_NICE = Number(process.env.LOADTEST_CLIENT_NICE ?? 10);
const ADMIN = 'loadtest-admin-key-0123456789';
const modelDir = process.env.NEGLABEL_MODEL_DIR ?? path.resolve('models/emoji-clip-small');
const GOALS = { healthP95Ms: 50, healthzP95Ms: 10 };

interface Shape {
  name: string;
  /** the clients' nice value, when not LOADTEST_CLIENT_NICE */
  clientNice?: number;
  /** starts the processes; returns the API base URLs */
  start(dataDir: string, spawnRole: (env: Record<string, string>) => ChildProcess): Promise<string[]>;
}

const port = () => 20_000 + Math.floor(Math.random() * 20_000);

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not become ready in ${timeoutMs / 1000} s`);
}

const ready = (url: string) => waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, url);

async function startApi(
  spawnRole: (env: Record<string, string>) => ChildProcess,
  env: Record<string, string>,
): Promise<string> {
  const p = port();
  spawnRole({ ...env, PORT: String(p), NEGLABEL_ADMIN_KEY: ADMIN });
  const url = `http://127.0.0.1:${p}`;
  await ready(url);
  return url;
}

const allInOne: Shape['start'] = async (_dataDir, spawnRole) => [await startApi(spawnRole, {})];

const SHAPES: Shape[] = [
  { name: 'all-in-one (`npm start`)', start: allInOne },
  // the same with the clients competing for the cores as equals, for comparison with earlier runs
  { name: 'all-in-one, clients at nice 0', clientNice: 0, start: allInOne },
  {
    name: 'db + 2 API + 1 worker processes',
    start: async (dataDir, spawnRole) => {
      spawnRole({ NEGLABEL_ROLE: 'db' });
      await waitFor(async () => existsSync(path.join(dataDir, SOCKET_NAME)), 'the db process');
      const shared = { DATABASE_URL: socketUrl(dataDir), NEGLABEL_ENCODER_WORKERS: '1' };
      const first = await startApi(spawnRole, { ...shared, NEGLABEL_ROLE: 'api' }); // creates the admin key
      const second = await startApi(spawnRole, { ...shared, NEGLABEL_ROLE: 'api' });
      spawnRole({ ...shared, NEGLABEL_ROLE: 'worker' });
      return [first, second];
    },
  },
];

/** Peak resident memory of a process (Linux VmHWM), in bytes. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * A load-test thread (prober.ts, clients.ts): it posts 'ready' once loaded, then its result when
 * done. Both are started only when both are ready, so the prober measures the load, not a quiet
 * start.
 */
function loadTestThread<T>(file: string): { worker: Worker; ready: Promise<void>; result: Promise<T> } {
  const worker = startTsWorker(new URL(file, import.meta.url));
  const failed = new Promise<never>((_resolve, reject) => worker.once('error', reject));
  const ready = Promise.race([new Promise<void>((resolve) => worker.once('message', () => resolve())), failed]);
  const result = ready.then(() => Promise.race([new Promise<T>((resolve) => worker.once('message', resolve)), failed]));
  return { worker, ready, result };
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
};

async function runShape(shape: Shape): Promise<{ lines: string[]; failed: boolean }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-load-'));
  const children: ChildProcess[] = [];
  const spawnRole = (env: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        NEGLABEL_DATA_DIR: dataDir,
        NEGLABEL_MODELS_DIR: path.join(dataDir, 'none'),
        NEGLABEL_MODEL_DIR: modelDir,
        LOG_LEVEL: 'warn',
        NEGLABEL_RATE_LIMIT_PER_MINUTE: '0',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  try {
    const apis = await shape.start(dataDir, spawnRole);
    let next = 0;
    const gql = (query: string, variables: object = {}, key = ADMIN) =>
      graphql(apis[next++ % apis.length], key, query, variables);

    const labels = readFileSync('test/fixtures/neglabel-reference/classnames_imagenet_classes.txt', 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(0, 200);
    const unique = [...new Set(labels.map((l) => l.toLowerCase()))];
    const taxonomyId = (
      await gql('mutation($l: [String!]!) { createTaxonomy(input: { name: "load", labels: $l }) { id } }', {
        l: unique,
      })
    ).createTaxonomy.id;
    const first = await gql('mutation($t: ID!) { startMining(input: { taxonomyId: $t }) { id } }', { t: taxonomyId });
    for (;;) {
      const { miningJob } = await gql('query($id: ID!) { miningJob(id: $id) { status error } }', {
        id: first.startMining.id,
      });
      if (miningJob.status === 'SUCCEEDED') break;
      if (miningJob.status === 'FAILED') throw new Error(miningJob.error);
      await new Promise((r) => setTimeout(r, 200));
    }
    // a second mining job (other parameters) runs during the load
    const second = (
      await gql('mutation($t: ID!) { startMining(input: { taxonomyId: $t, groups: 50, seed: 1 }) { id } }', {
        t: taxonomyId,
      })
    ).startMining.id;

    const keys: string[] = [];
    for (let c = 0; c < CLIENTS; c++)
      keys.push(
        (
          await gql('mutation($n: String!) { createApiKey(input: { name: $n, role: ADMIN }) { key } }', {
            n: `client-${c}`,
          })
        ).createApiKey.key,
      );
    const prober = loadTestThread<ProberResult>('./prober.ts');
    const clients = loadTestThread<ClientsResult>('./clients.ts');
    await Promise.all([prober.ready, clients.ready]);
    const started = performance.now();
    prober.worker.postMessage({ type: 'start', apis, key: ADMIN, probeMs: PROBE_MS } satisfies ProberStart);
    clients.worker.postMessage({
      apis,
      keys,
      taxonomyId,
      requests: REQUESTS,
      maxSeconds: MAX_SECONDS,
      nice: shape.clientNice ?? CLIENT_NICE,
    } satisfies ClientsStart);
    const { latencies: clientLatencies, failures } = await clients.result;
    prober.worker.postMessage({ type: 'stop' });
    const probes = await prober.result;
    const latencies: Record<string, number[]> = {
      ...clientLatencies,
      'health (GraphQL)': probes.health,
      'GET /healthz': probes.healthz,
    };
    failures.push(...probes.failures);
    const seconds = (performance.now() - started) / 1000;
    const miningStatus = (await gql('query($id: ID!) { miningJob(id: $id) { status phase } }', { id: second }))
      .miningJob;
    const done = Object.values(clientLatencies).reduce((a, values) => a + values.length, 0);
    const records = (
      await gql('query($t: ID!) { scoringStats(filter: { taxonomyId: $t }) { total } }', { t: taxonomyId })
    ).scoringStats.total;
    const rss = children.reduce((sum, child) => sum + (child.pid ? peakRss(child.pid) : 0), 0);
    const healthP95 = pct(latencies['health (GraphQL)'], 0.95);
    const healthzP95 = pct(latencies['GET /healthz'], 0.95);
    const lines = [
      `**${shape.name}**: ${CLIENTS} clients, ${done} requests in ${seconds.toFixed(1)} s ` +
        `(${(done / seconds).toFixed(0)} req/s), scoring ${(latencies.scoreImages.length / seconds).toFixed(0)} ` +
        `req/s; ` +
        `the second mining job was ` +
        `${miningStatus.status === 'SUCCEEDED' ? 'done by the end' : `still ${miningStatus.phase} at the end`}; ` +
        `${failures.length} failed; ` +
        `scoring records written ${records} for ${latencies.scoreImages.length} acknowledged scoreImages calls ` +
        `(lost: ${latencies.scoreImages.length - records}); ` +
        `peak RSS of the service processes ${(rss / 2 ** 20).toFixed(0)} MiB.`,
      '',
      '| operation | requests | p50 ms | p95 ms | p99 ms |',
      '|---|---|---|---|---|',
      ...Object.entries(latencies).map(
        ([name, values]) =>
          `| ${name} | ${values.length} | ${pct(values, 0.5).toFixed(0)} | ${pct(values, 0.95).toFixed(0)} | ` +
          `${pct(values, 0.99).toFixed(0)} |`,
      ),
      '',
      `Goals: GraphQL \`health\` p95 < ${GOALS.healthP95Ms} ms: ` +
        `${healthP95 < GOALS.healthP95Ms ? 'met' : 'not met'} (${healthP95.toFixed(0)}); ` +
        `\`/healthz\` p95 < ${GOALS.healthzP95Ms} ms: ${healthzP95 < GOALS.healthzP95Ms ? 'met' : 'not met'} ` +
        `(${healthzP95.toFixed(1)}).`,
      '',
    ];
    if (failures.length) console.log(failures.slice(0, 10).join('\n'));
    return { lines, failed: failures.length > 0 };
  } finally {
    // the db process last: the others close their connections to it first
    for (const child of children.reverse()) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const header =
  `Load test (\`npm run loadtest\`, two to four minutes): the service as real processes on this machine's ` +
  `2 cores; the clients in a thread of their own at nice ${CLIENT_NICE} (they stand in for other machines, so ` +
  `they get the cycles the service leaves; the second run below puts them at the service's priority, as ` +
  `earlier runs of this test had them); a health prober (every ${PROBE_MS} ms) in another thread at normal ` +
  `priority, as a load balancer's checker has its own CPU; model ${path.basename(modelDir)}; one mining job ` +
  `runs during the load.`;
const sections = [header, ''];
let failed = false;
for (const shape of SHAPES.filter((s) => s.name.startsWith(process.env.LOADTEST_SHAPE ?? ''))) {
  const result = await runShape(shape);
  console.log(result.lines.join('\n'));
  sections.push(...result.lines);
  failed ||= result.failed;
}
if (process.argv.includes('--write-readme') && !failed) writeReadmeSection('load', sections.join('\n').trimEnd());
if (failed) process.exitCode = 1;
