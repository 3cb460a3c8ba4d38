/** The real `npm start` entry point as a child process on a given port, for crash and signal tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { FIXTURE_MODEL_DIR } from './fixtures.ts';

/**
 * What a spawned service inherits from the test process: how to run programs, nothing else. Its
 * database and port are always the test's (never a DATABASE_URL the reader exported).
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'])
    if (process.env[name] !== undefined) inherited[name] = process.env[name]!;
  return { ...inherited, ...env };
}

export function randomPort(): number {
  return 4700 + Math.floor(Math.random() * 1000);
}

export function startServer(port: number, dataDir: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: childEnv({
      PORT: String(port),
      NEGLABEL_DATA_DIR: dataDir,
      NEGLABEL_MODEL_DIR: FIXTURE_MODEL_DIR,
      NEGLABEL_JOB_POLL_MS: '100',
      LOG_LEVEL: 'warn',
      ...env,
    }),
    stdio: 'ignore',
  });
}

export async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become ready');
}

export async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGKILL');
  await exited;
}
