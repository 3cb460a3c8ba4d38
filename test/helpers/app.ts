/**
 * Starts the real service (real ONNX workers, real HTTP) on a free port, on the test run's database:
 * the data folder's embedded PGlite, or its own database on the test server (unless `env` names a
 * DATABASE_URL). A data folder passed in keeps its database across restarts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apiUrl, startApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { dropServiceDatabase, serviceDatabaseEnv } from './backend.ts';
import { FIXTURE_MODEL_DIR } from './fixtures.ts';

export interface TestApp extends Omit<App, 'url'> {
  url: string;
  graphql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ data?: T; errors?: Array<{ message: string; extensions: { code: string } & Record<string, unknown> }> }>;
  dataDir: string;
}

/** The bootstrap admin key of test servers; `graphql()` sends it unless told otherwise. */
export const ADMIN_KEY = 'test-admin-key-0123456789';

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = env.NEGLABEL_DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'neglabel-test-'));
  const config = loadConfig({
    PORT: '0',
    NEGLABEL_DATA_DIR: dataDir,
    NEGLABEL_MODELS_DIR: path.join(dataDir, 'no-models'),
    NEGLABEL_MODEL_DIR: FIXTURE_MODEL_DIR,
    NEGLABEL_ENCODER_WORKERS: '2',
    LOG_LEVEL: 'warn',
    NEGLABEL_ADMIN_KEY: ADMIN_KEY,
    ...('DATABASE_URL' in env ? {} : await serviceDatabaseEnv(dataDir)),
    ...env,
  });
  const app = await startApp(config, createLogger(config.logLevel));
  const url = apiUrl(app);
  return {
    ...app,
    url,
    dataDir,
    async graphql(query, variables, headers = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return response.json() as Promise<any>;
    },
    async close() {
      await app.close();
      if (!env.NEGLABEL_DATA_DIR) {
        rmSync(dataDir, { recursive: true, force: true });
        if (!('DATABASE_URL' in env)) await dropServiceDatabase(dataDir);
      }
    },
  };
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Polls a mining job until it ends (SUCCEEDED, FAILED or CANCELLED) and returns it. */
export async function waitForJob(
  app: TestApp,
  id: string,
  timeoutMs = 600_000,
): Promise<{ status: string; error: string | null; negativeSet: { id: string } | null }> {
  const started = Date.now();
  for (;;) {
    const { data, errors } = await app.graphql(
      'query($id: ID!) { miningJob(id: $id) { status error negativeSet { id } } }',
      { id },
    );
    if (errors) throw new Error(JSON.stringify(errors));
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(data.miningJob.status)) return data.miningJob;
    if (Date.now() - started > timeoutMs)
      throw new Error(`job ${id} still ${data.miningJob.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A small taxonomy mined over a 20-word custom corpus (seconds, not the full WordNet pass). */
/** A small mining corpus (12 nouns, 8 adjectives): mining it takes a second. */
export const TEST_CORPUS = [
  'car',
  'house',
  'tree',
  'river',
  'cloud',
  'stone',
  'chair',
  'lamp',
  'boat',
  'bridge',
  'road',
  'hill',
]
  .map((text) => ({ text, partOfSpeech: 'NOUN' }))
  .concat(
    ['red', 'quiet', 'tall', 'wet', 'slow', 'bright', 'empty', 'round'].map((text) => ({
      text,
      partOfSpeech: 'ADJECTIVE',
    })),
  );

export async function createMinedTaxonomy(
  app: TestApp,
  name: string,
  labels = ['cat', 'dog', 'hamster'],
): Promise<string> {
  const created = await app.graphql('mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }', {
    i: { name, labels },
  });
  if (created.errors) throw new Error(JSON.stringify(created.errors));
  const corpus = TEST_CORPUS;
  const taxonomyId = created.data.createTaxonomy.id;
  const started = await app.graphql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
    i: { taxonomyId, corpus, selectionRatio: 0.5, groups: 2 },
  });
  if (started.errors) throw new Error(JSON.stringify(started.errors));
  const job = await waitForJob(app, started.data.startMining.id);
  if (job.status !== 'SUCCEEDED') throw new Error(`mining ${job.status}: ${job.error}`);
  return taxonomyId;
}
