import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropServiceDatabase, serviceDatabaseEnv } from '../helpers/backend.ts';
import { FIXTURE_MODEL_DIR } from '../helpers/fixtures.ts';
import {
  randomPort,
  startServer as startProcess,
  stopServer,
  waitReady as waitForReady,
} from '../helpers/server-process.ts';

const PORT = randomPort();
const startServer = (dataDir: string, env: Record<string, string>) => startProcess(PORT, dataDir, env);
const waitReady = () => waitForReady(PORT);

/** Runs `fn` with a fresh data folder and a way to start servers on it; kills them and removes it after. */
async function withDataDir(fn: (start: () => ChildProcess) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-crash-'));
  const started: ChildProcess[] = [];
  const database = await serviceDatabaseEnv(dataDir);
  try {
    await fn(() => {
      const server = startServer(dataDir, database);
      started.push(server);
      return server;
    });
  } finally {
    for (const server of started) await stopServer(server);
    await dropServiceDatabase(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function graphql(query: string, variables?: object): Promise<any> {
  const response = await fetch(`http://127.0.0.1:${PORT}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()).data;
}

test('a mining job killed with SIGKILL mid-encoding resumes on restart, and no half-built set is visible', async () => {
  await withDataDir(async (start) => {
    let server = start();
    await waitReady();
    const taxonomyId = (
      await graphql('mutation { createTaxonomy(input: { name: "pets", labels: ["cat", "dog", "hamster"] }) { id } }')
    ).createTaxonomy.id;
    const jobId = (
      await graphql('mutation($t: ID!) { startMining(input: { taxonomyId: $t, groups: 10 }) { id } }', {
        t: taxonomyId,
      })
    ).startMining.id;
    let progress: { status: string; phase: string; done: number; total: number };
    do {
      await new Promise((r) => setTimeout(r, 100));
      progress = (await graphql('query($id: ID!) { miningJob(id: $id) { status phase done total } }', { id: jobId }))
        .miningJob;
    } while (!(progress.phase === 'encoding-corpus' && progress.done > 0) && progress.status !== 'SUCCEEDED');
    assert.equal(progress.status, 'RUNNING', 'the job finished before it could be killed');
    await stopServer(server);
    server = start();
    await waitReady();
    const afterCrash = (
      await graphql('query($t: ID!) { taxonomy(id: $t) { latestVersion { activeNegativeSet { id } } } }', {
        t: taxonomyId,
      })
    ).taxonomy;
    const status = (await graphql('query($id: ID!) { miningJob(id: $id) { status } }', { id: jobId })).miningJob.status;
    // the set was read first: a job still unfinished after it means the set was not yet complete then
    assert.notEqual(
      status,
      'SUCCEEDED',
      'the resumed job is still encoding (it was killed after its first corpus chunk)',
    );
    assert.equal(afterCrash.latestVersion.activeNegativeSet, null, 'no set is visible before the job completes');
    const poll = async () =>
      (
        await graphql(
          'query($id: ID!) { miningJob(id: $id) { status phase done total attempts error negativeSet { id active ' +
            'labelCount } } }',
          { id: jobId },
        )
      ).miningJob;
    let job = await poll();
    let sawResumedEncoding = false;
    for (let i = 0; i < 1200 && job.status !== 'SUCCEEDED'; i++, job = await poll()) {
      assert.notEqual(job.status, 'FAILED', job.error);
      if (job.status === 'RUNNING' && job.phase === 'encoding-corpus') {
        // the same unit and size as before the crash, and no step back: cached prompts count as done
        assert.equal(job.total, progress.total);
        assert.ok(job.done >= progress.done, `resumed at ${job.done}, had reached ${progress.done}`);
        sawResumedEncoding = true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sawResumedEncoding, 'the resumed job was seen encoding the rest of the corpus');
    assert.equal(job.status, 'SUCCEEDED');
    assert.equal(job.attempts, 2);
    assert.equal(job.negativeSet.active, true);
    assert.ok(job.negativeSet.labelCount > 0);
  });
});

test(
  'SIGKILL during batch scoring and during a taxonomy import, three times: committed records survive, no ' +
    'partial batch or taxonomy',
  async () => {
    await withDataDir(async (start) => {
      let server = start();
      const { readFileSync } = await import('node:fs');
      const image = readFileSync(path.join(FIXTURE_MODEL_DIR, 'images/rgb224.png'));
      const images = (n: number, salt: string) =>
        Array.from({ length: n }, (_, i) => ({
          data: Buffer.concat([image, Buffer.from(`${salt}-${i}`)]).toString('base64'),
        }));
      await waitReady();
      const taxonomyId = (
        await graphql('mutation { createTaxonomy(input: { name: "crash", labels: ["cat", "dog"] }) { id } }')
      ).createTaxonomy.id;
      const words = Array.from({ length: 300 }, (_, i) => ({
        text: `thing${i}`,
        partOfSpeech: i % 3 ? 'NOUN' : 'ADJECTIVE',
      }));
      const jobId = (
        await graphql(
          'mutation($t: ID!, $c: [CorpusWordInput!]) { startMining(input: { taxonomyId: $t, corpus: $c, groups: 5 }) ' +
            '{ id } }',
          { t: taxonomyId, c: words },
        )
      ).startMining.id;
      while (
        (await graphql('query($id: ID!) { miningJob(id: $id) { status } }', { id: jobId })).miningJob.status !==
        'SUCCEEDED'
      )
        await new Promise((r) => setTimeout(r, 100));

      const acknowledged: string[] = [];
      for (let cycle = 0; cycle < 3; cycle++) {
        const ok = await graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
          i: { taxonomyId, images: images(8, `ok${cycle}`) },
        });
        acknowledged.push(...ok.scoreImages.map((r: { recordId: string }) => r.recordId));
        // a large batch and a large import in flight, then the process dies
        void graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
          i: { taxonomyId, images: images(64, `kill${cycle}`) },
        }).catch(() => {});
        void graphql(
          'mutation($l: [String!]!, $n: String!) { createTaxonomy(input: { name: $n, labels: $l }) { id } }',
          {
            n: `import-${cycle}`,
            l: Array.from({ length: 50_000 }, (_, i) => `label ${i}`),
          },
        ).catch(() => {});
        await new Promise((r) => setTimeout(r, 150 + 100 * cycle));
        await stopServer(server);
        server = start();
        await waitReady();

        const stats = (
          await graphql('query($t: ID!) { scoringStats(filter: { taxonomyId: $t }) { total } }', { t: taxonomyId })
        ).scoringStats.total;
        assert.equal(
          (stats - acknowledged.length) % 64,
          0,
          `cycle ${cycle}: ${stats} records: a partial batch was kept`,
        );
        for (const id of acknowledged)
          assert.ok(
            (await graphql('query($id: ID!) { scoringRecord(id: $id) { id } }', { id })).scoringRecord,
            `record ${id} lost`,
          );
        const imported = (
          await graphql('{ taxonomies(first: 50) { edges { node { name latestVersion { labelCount } } } } }')
        ).taxonomies.edges.find((e: any) => e.node.name === `import-${cycle}`);
        if (imported)
          assert.equal(imported.node.latestVersion.labelCount, 50_000, 'a taxonomy import is whole or absent');
      }
    });
  },
);

test('SIGTERM drains: the in-flight request finishes, new connections are refused, the process exits 0', async () => {
  await withDataDir(async (start) => {
    const server = start();
    await waitReady();
    const texts = Array.from({ length: 3000 }, (_, i) => `a sentence to encode during shutdown number ${i}`);
    const inFlight = graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: texts });
    await new Promise((r) => setTimeout(r, 100));
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    server.kill('SIGTERM');
    const result = await inFlight;
    assert.equal(result.embedTexts.length, 3000);
    assert.equal(await exited, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${PORT}/healthz`));
  });
});
