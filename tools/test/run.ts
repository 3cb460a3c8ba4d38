/**
 * `npm test`: every test on the embedded database (PGlite), then the integration and end-to-end
 * tiers again on a real PostgreSQL server with pgvector (a throwaway cluster, see
 * tools/postgres/cluster.ts), which shows what one PGlite backend cannot: concurrent sessions,
 * locks, timeouts, roles. Files named embedded-* test the embedded database itself and run on the
 * first pass only; files named server-* test what only a server shows and run on the second only.
 * Each pass is Node's test runner; the last line adds both passes up.
 * Arguments narrow the files (substrings of their paths), e.g. `npm test -- e2e/open-mode`.
 * NEGLABEL_TEST_POSTGRES_URL names an existing server (a superuser URL) instead of a throwaway one;
 * NEGLABEL_TEST_BACKENDS=pglite or =postgres runs one pass only.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startThrowawayCluster, type PostgresCluster } from '../postgres/cluster.ts';

const root = path.resolve(import.meta.dirname, '../..');

function testFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
}

const filters = process.argv.slice(2);
const all = [...testFiles('test'), ...testFiles('tools')]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
/**
 * the tiers that touch a database run on both backends, except the tests of the embedded database
 * itself (named embedded-*: its server, its socket, its disk guard)
 */
const serverTier = all.filter(
  (f) => (f.startsWith('test/integration/') || f.startsWith('test/e2e/')) && !path.basename(f).startsWith('embedded-'),
);
/** what only a server shows (named server-*): on the server pass only */
const embeddedPass = all.filter((f) => !path.basename(f).startsWith('server-'));
const backends = (process.env.NEGLABEL_TEST_BACKENDS ?? 'pglite,postgres').split(',');

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}

/** One run of Node's test runner; its counts are read from its closing summary. */
function runPass(name: string, files: string[], env: NodeJS.ProcessEnv): Promise<Totals> {
  console.log(`\n# ${name}: ${files.length} files`);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const counts = new Map<string, number>();
  let tail = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    const lines = (tail + chunk.toString('utf8')).split('\n');
    tail = lines.pop()!;
    for (const line of lines) {
      const match = /^(?:#|ℹ) (pass|fail|skipped|todo|cancelled) (\d+)$/.exec(line.trim());
      if (match) counts.set(match[1], Number(match[2]));
    }
  });
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      const failed = (counts.get('fail') ?? 0) + (counts.get('cancelled') ?? 0);
      // a runner that died without a summary, or failed without counting it, is one failure
      resolve({
        passed: counts.get('pass') ?? 0,
        failed: code !== 0 && failed === 0 ? 1 : failed,
        skipped: (counts.get('skipped') ?? 0) + (counts.get('todo') ?? 0),
      });
    }),
  );
}

const totals: Totals = { passed: 0, failed: 0, skipped: 0 };
const add = (t: Totals) => {
  totals.passed += t.passed;
  totals.failed += t.failed;
  totals.skipped += t.skipped;
};
const baseEnv = { ...process.env };
delete baseEnv.DATABASE_URL; // a reader's exported database is never a test database
delete baseEnv.NEGLABEL_MIGRATION_DATABASE_URL;

if (backends.includes('pglite') && embeddedPass.length > 0)
  add(await runPass('embedded PGlite, every tier', embeddedPass, { ...baseEnv, NEGLABEL_TEST_DATABASE: 'pglite' }));

if (backends.includes('postgres') && serverTier.length > 0) {
  let cluster: PostgresCluster | undefined;
  let adminUrl = process.env.NEGLABEL_TEST_POSTGRES_URL;
  try {
    if (!adminUrl) {
      const started = Date.now();
      cluster = await startThrowawayCluster();
      adminUrl = cluster.adminUrl;
      console.log(
        `# PostgreSQL ${cluster.version} with pgvector started in ${Date.now() - started} ms (${cluster.dir})`,
      );
    }
    const stop = () => void cluster?.stop().then(() => process.exit(130));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    add(
      await runPass('PostgreSQL server, integration and end-to-end tiers', serverTier, {
        ...baseEnv,
        NEGLABEL_TEST_DATABASE: 'postgres',
        NEGLABEL_TEST_POSTGRES_URL: adminUrl,
      }),
    );
  } catch (error) {
    console.error(`# the PostgreSQL pass could not run: ${(error as Error).message}`);
    totals.failed += 1;
  } finally {
    await cluster?.stop();
  }
}

console.log(
  `\ntests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`,
);
process.exitCode = totals.failed > 0 ? 1 : 0;
