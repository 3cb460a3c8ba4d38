/**
 * The embedded default database: PGlite (Postgres 17 in WASM) with pgvector, persisted in a data
 * folder and served over the Postgres wire protocol on loopback, so the service talks to it
 * through the same `pg`/Prisma path it uses for an external server.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is one Postgres backend in this process: two processes on one data folder would corrupt
 * it. A lock file with our pid refuses a second process; a lock left by a dead process is taken over.
 */
function acquireLock(dataDir: string): string {
  const lockFile = path.join(dataDir, 'neglabel.lock');
  if (existsSync(lockFile)) {
    const pid = Number(readFileSync(lockFile, 'utf8'));
    if (pid && pid !== process.pid && processAlive(pid)) {
      throw new Error(`${dataDir} is in use by another neglabel process (pid ${pid}): stop it, or set NEGLABEL_DATA_DIR to another folder, or use DATABASE_URL for a shared Postgres`);
    }
  }
  writeFileSync(lockFile, String(process.pid));
  return lockFile;
}

export async function startEmbeddedPostgres(dataDir: string, maxConnections: number): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = acquireLock(dataDir);
  const db = await PGlite.create(path.join(dataDir, 'pgdata'), { extensions: { vector } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
  await server.start();
  return {
    url: `postgresql://postgres:postgres@${server.getServerConn()}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
      rmSync(lockFile, { force: true });
    },
  };
}
