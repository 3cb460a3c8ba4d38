/**
 * The embedded default database: PGlite (Postgres 17 in WASM) with pgvector, persisted in a data
 * folder and served over the Postgres wire protocol, so the service talks to it through the same
 * `pg`/Prisma path it uses for an external server.
 *
 * Trust model: PGlite has no authentication, and whoever reaches its socket is its superuser
 * (can rewrite the append-only history, add keys, wedge the backend). So it is never on TCP: it
 * listens on a Unix socket inside the data folder, and the folder is private to the service's
 * user (0700, files 0600). Only processes of that user — who could read the files anyway — reach
 * it. A folder that others can enter is refused at start.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { startTsWorker } from '../lib/ts-worker.ts';
import { PgliteServer } from './pglite-server.ts';
import type { StorageGuard } from './storage-guard.ts';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** The lock file that marks a data folder as an embedded database in use. */
export const LOCK_FILE = 'neglabel.lock';
/** The socket file name Postgres clients look for in a socket folder (`host=<folder>`, port 5432). */
export const SOCKET_NAME = '.s.PGSQL.5432';
/** sun_path holds 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * PGlite is one Postgres backend in this process: two processes on one data folder would corrupt
 * it. The lock is a Unix socket in Linux's abstract namespace, named after the folder's real path:
 * binding it is atomic, and the kernel releases it when the process ends however it ends, so a
 * stale or reused pid can neither refuse a restart nor let a second process in (a pid file could
 * do both). The lock file only marks the folder as an embedded database (database.ts) and says
 * which pid holds it.
 */
async function acquireLock(dataDir: string): Promise<{ lockFile: string; release: () => Promise<void> }> {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const name = `\0neglabel-data-${createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 32)}`;
  const holder = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    holder.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      const pid = existsSync(lockFile) ? Number(readFileSync(lockFile, 'utf8')) || null : null;
      reject(
        new Error(
          `${dataDir} is in use by another neglabel process${pid ? ` (pid ${pid})` : ''}: stop it, or set ` +
            'NEGLABEL_DATA_DIR to another folder, or use DATABASE_URL for a shared Postgres',
        ),
      );
    });
    holder.listen(name, resolve);
  });
  writeFileSync(lockFile, String(process.pid), { mode: 0o600 });
  return {
    lockFile,
    release: () => new Promise<void>((resolve) => holder.close(() => resolve())),
  };
}

/** Creates the data folder private (0700), or refuses one that other users can enter, read or write. */
export function ensurePrivateFolder(dataDir: string): void {
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stat = statSync(dataDir);
  if (!stat.isDirectory()) throw new Error(`NEGLABEL_DATA_DIR=${dataDir} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new Error(
      `${dataDir} belongs to user ${stat.uid}, not to the user running neglabel (${uid}): the embedded database ` +
        `must live in a folder of its own user`,
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8);
    throw new Error(
      `${dataDir} is mode ${mode}: other users could read or change the embedded database. Run \`chmod -R go-rwx ` +
        `${dataDir}\` (folder 0700, files 0600) and start again`,
    );
  }
}

/**
 * PGlite unpacks its initial cluster with mode 0666 whatever the umask: take every file and folder
 * below `dir` back to its owner (files 0600, folders 0700). Files it creates later honour the umask.
 */
function restrictTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      chmodSync(file, 0o700);
      restrictTree(file);
    } else if (entry.isFile()) {
      chmodSync(file, 0o600);
    }
  }
}

export interface ServeOptions {
  maxConnections: number;
  /** a connection holding the database idle in a transaction this long is disconnected */
  idleInTransactionMs: number;
}

/**
 * Checks what must hold before the database opens: a private folder, disk space, a socket path
 * Unix accepts. Runs on the main thread, which also sets the umask (worker threads cannot).
 */
function prepare(dataDir: string, storage: StorageGuard): void {
  ensurePrivateFolder(dataDir);
  // PGlite never comes back from a full disk (storage-guard.ts): do not even open it on one
  storage.assertWritable();
  const socketPath = path.join(dataDir, SOCKET_NAME);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new Error(
      `the database socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes (a Unix socket limit): set ` +
        `NEGLABEL_DATA_DIR to a shorter path`,
    );
  }
  // Every file the database (and this process) creates from here on is private to this user.
  process.umask(0o077);
}

/** The all-in-one mode's database thread: how it serves, and its nice value (0 = the process's). */
export interface DatabaseThreadOptions extends ServeOptions {
  threadNice?: number;
}

/** libpq convention: host names the socket folder; no password (only this user reaches it). */
export function socketUrl(dataDir: string): string {
  return `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dataDir)}`;
}

/**
 * Opens the database of `dataDir` and serves it on its socket from the calling thread: PGlite runs
 * its queries on the thread that created it. Call `prepare` first (on the main thread).
 */
export async function serveInThisThread(
  dataDir: string,
  options: ServeOptions,
  onError: (message: string, error: unknown) => void,
): Promise<EmbeddedPostgres> {
  const socketPath = path.join(dataDir, SOCKET_NAME);
  const lock = await acquireLock(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(path.join(dataDir, 'pgdata'), { extensions: { vector } });
  } catch (error) {
    await lock.release();
    throw error;
  }
  restrictTree(dataDir);
  rmSync(socketPath, { force: true }); // left by a process that died: the lock says none is alive
  const server = new PgliteServer(db, {
    path: socketPath,
    maxConnections: options.maxConnections,
    idleInTransactionMs: options.idleInTransactionMs,
    onError,
  });
  await server.start();
  chmodSync(socketPath, 0o600);
  return {
    url: socketUrl(dataDir),
    async stop() {
      await server.stop();
      await db.close();
      rmSync(socketPath, { force: true });
      rmSync(lock.lockFile, { force: true });
      await lock.release();
    },
  };
}

/** The `db` role: this process serves the embedded database to other local processes, on its main thread. */
export async function serveEmbeddedPostgres(
  dataDir: string,
  options: ServeOptions,
  storage: StorageGuard,
  onError: (message: string, error: unknown) => void,
): Promise<EmbeddedPostgres> {
  prepare(dataDir, storage);
  return serveInThisThread(dataDir, options, onError);
}

/**
 * The all-in-one mode: the embedded database runs in a thread of its own, so its queries never
 * hold up the event loop that serves HTTP, and this process reaches it through its socket. With
 * `threadNice` (Linux), that thread yields the cores to the request thread under load
 * (src/lib/thread-priority.ts).
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: DatabaseThreadOptions,
  storage: StorageGuard,
  onError: (message: string, error: unknown) => void = () => {},
): Promise<EmbeddedPostgres> {
  prepare(dataDir, storage);
  const thread = startTsWorker(new URL('./embedded-postgres-thread.ts', import.meta.url));
  const reply = (expected: string) =>
    new Promise<DatabaseThreadReply>((resolve, reject) => {
      const onMessage = (message: DatabaseThreadReply) => {
        if (message.type === 'log') return onError(message.message, message.error);
        thread.off('message', onMessage);
        thread.off('exit', onExit);
        if (message.type === 'failed') reject(new Error(message.error));
        else if (message.type !== expected)
          reject(new Error(`the database thread said ${message.type}, expected ${expected}`));
        else resolve(message);
      };
      const onExit = (code: number) => reject(new Error(`the database thread exited with code ${code}`));
      thread.on('message', onMessage);
      thread.once('exit', onExit);
    });
  thread.postMessage({ type: 'start', dataDir, options } satisfies DatabaseThreadRequest);
  try {
    await reply('started');
  } catch (error) {
    await thread.terminate();
    throw error;
  }
  return {
    url: socketUrl(dataDir),
    async stop() {
      thread.postMessage({ type: 'stop' } satisfies DatabaseThreadRequest);
      await reply('stopped').finally(() => thread.terminate());
    },
  };
}

export type DatabaseThreadRequest =
  | { type: 'start'; dataDir: string; options: DatabaseThreadOptions }
  | { type: 'stop' };
export type DatabaseThreadReply =
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'failed'; error: string }
  | { type: 'log'; message: string; error: string | null };
