/**
 * `npm run loadtest`: starts the service (embedded database, default model) on loopback, then
 * CLIENTS concurrent clients mix scoring, history queries and stats while a mining job runs.
 * Bounded in requests and time; prints latency percentiles per operation, throughput, failures,
 * and peak RSS of the process. Each client is a service with its own API key, as in production
 * (the per-key in-flight bound applies to each).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { writeReadmeSection } from '../readme-section.ts';

const CLIENTS = Number(process.env.CLIENTS ?? 32);
const REQUESTS = Number(process.env.REQUESTS ?? 2000);
const MAX_SECONDS = Number(process.env.MAX_SECONDS ?? 300);
const ADMIN = 'loadtest-admin-key-0123456789';
const modelDir = process.env.NEGLABEL_MODEL_DIR ?? (path.resolve('models/emoji-clip-small'));

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-load-'));
const config = loadConfig({ PORT: '0', NEGLABEL_DATA_DIR: dataDir, NEGLABEL_MODELS_DIR: path.join(dataDir, 'none'), NEGLABEL_MODEL_DIR: modelDir, NEGLABEL_ADMIN_KEY: ADMIN, LOG_LEVEL: 'warn', NEGLABEL_RATE_LIMIT_PER_MINUTE: '0' });
const app = await startApp(config, createLogger('warn'));
let peakRss = process.memoryUsage().rss;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

async function gql(query: string, variables: object = {}, key = ADMIN): Promise<any> {
  const response = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (response.status !== 200 || body.errors) throw new Error(`${response.status} ${JSON.stringify(body.errors)}`);
  return body.data;
}

try {
  const labels = readFileSync('test/fixtures/neglabel-reference/classnames_imagenet_classes.txt', 'utf8').split('\n').filter(Boolean).slice(0, 200);
  const unique = [...new Set(labels.map((l) => l.toLowerCase()))];
  const { createTaxonomy } = await gql('mutation($l: [String!]!) { createTaxonomy(input: { name: "load", labels: $l }) { id } }', { l: unique });
  const taxonomyId = createTaxonomy.id;
  const first = await gql('mutation($t: ID!) { startMining(input: { taxonomyId: $t }) { id } }', { t: taxonomyId });
  for (;;) {
    const { miningJob } = await gql('query($id: ID!) { miningJob(id: $id) { status error } }', { id: first.startMining.id });
    if (miningJob.status === 'SUCCEEDED') break;
    if (miningJob.status === 'FAILED') throw new Error(miningJob.error);
    await new Promise((r) => setTimeout(r, 200));
  }
  // a second mining job (other parameters) runs during the load
  await gql('mutation($t: ID!) { startMining(input: { taxonomyId: $t, groups: 50, seed: 1 }) { id } }', { t: taxonomyId });

  const images = ['rgb224.png', 'rgb640x480.jpg', 'rgb300x200.png', 'gray256.png', 'rgba240.png', 'tiny8.png'].map((f) => readFileSync(path.join('test/fixtures/clip-tiny-random/images', f)));
  const keys: string[] = [];
  for (let c = 0; c < CLIENTS; c++) keys.push((await gql('mutation($n: String!) { createApiKey(input: { name: $n, role: ADMIN }) { key } }', { n: `client-${c}` })).createApiKey.key);
  const operations: Record<string, (key: string) => Promise<unknown>> = {
    scoreImages: (key) => gql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score isOOD recordId } }', {
      i: { taxonomyId, images: [{ data: Buffer.concat([images[Math.floor(Math.random() * images.length)], Buffer.from(String(Math.random()))]).toString('base64') }] },
    }, key),
    scoringRecords: (key) => gql('query($t: ID!) { scoringRecords(filter: { taxonomyId: $t, decision: OOD }, first: 20) { edges { node { id score } } } }', { t: taxonomyId }, key),
    scoringStats: (key) => gql('query($t: ID!) { scoringStats(filter: { taxonomyId: $t }, interval: HOUR) { total oodRate } }', { t: taxonomyId }, key),
    health: (key) => gql('{ health { status } }', {}, key),
  };
  const mix = ['scoreImages', 'scoreImages', 'scoreImages', 'scoreImages', 'scoringRecords', 'scoringRecords', 'scoringStats', 'health'];
  const latencies: Record<string, number[]> = Object.fromEntries(Object.keys(operations).map((k) => [k, []]));
  const failures: string[] = [];
  let issued = 0;
  const started = performance.now();
  const deadline = started + MAX_SECONDS * 1000;
  await Promise.all(keys.map(async (key) => {
    while (issued < REQUESTS && performance.now() < deadline) {
      const name = mix[issued++ % mix.length];
      const t0 = performance.now();
      try {
        await operations[name](key);
        latencies[name].push(performance.now() - t0);
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message.slice(0, 200)}`);
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const pct = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(0) : '-';
  };
  const done = Object.values(latencies).reduce((a, l) => a + l.length, 0);
  const records = (await gql('query($t: ID!) { scoringStats(filter: { taxonomyId: $t }) { total } }', { t: taxonomyId })).scoringStats.total;
  const lines = [
    `Load test (\`npm run loadtest\`): ${CLIENTS} concurrent clients, ${done + failures.length} requests in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} req/s) while a mining job ran; ${failures.length} failed; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (server and clients in one process); model ${path.basename(modelDir)}; scoring records written ${records} for ${latencies.scoreImages.length} acknowledged scoreImages calls (lost: ${latencies.scoreImages.length - records}).`,
    '',
    '| operation | requests | p50 ms | p95 ms | p99 ms |',
    '|---|---|---|---|---|',
    ...Object.entries(latencies).map(([name, values]) => `| ${name} | ${values.length} | ${pct(values, 0.5)} | ${pct(values, 0.95)} | ${pct(values, 0.99)} |`),
  ];
  console.log(lines.join('\n'));
  if (process.argv.includes('--write-readme') && failures.length === 0) writeReadmeSection('load', lines.join('\n'));
  if (failures.length) {
    console.log(failures.slice(0, 10).join('\n'));
    process.exitCode = 1;
  }
} finally {
  clearInterval(rssTimer);
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}
