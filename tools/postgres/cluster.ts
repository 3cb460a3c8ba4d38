/**
 * A throwaway PostgreSQL cluster with pgvector, for the Postgres test tier and the benchmarks:
 * initdb in a temporary folder, a server listening only on a Unix socket in that folder, and a
 * template database with `vector` from which every test database is created. Postgres refuses to
 * run as root, so as root the cluster belongs to the `postgres` user (the Debian package makes it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** The database every test database is copied from (it has the `vector` extension). */
export const TEMPLATE_DATABASE = 'neglabel_template';

export interface PostgresCluster {
  /** superuser URL of the `postgres` database */
  adminUrl: string;
  /** the server's folder (data, socket and log) */
  dir: string;
  version: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** durability as a production server has it (fsync, synchronous commit); off for tests */
  durable?: boolean;
  maxConnections?: number;
}

/** The server's bin folder, installing Postgres and pgvector first if they are missing. */
export function postgresBinDir(): string {
  const script = path.resolve(import.meta.dirname, 'install.sh');
  const result = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0)
    throw new Error(
      `tools/postgres/install.sh failed (exit ${result.status}): install PostgreSQL with pgvector as it says, ` +
        'or run it as root',
    );
  return result.stdout.trim().split('\n').at(-1)!;
}

function asOwner(uid: number | null, command: string, args: string[]): void {
  const [file, argv] = uid === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function startThrowawayCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-postgres-'));
  const uid = process.getuid?.() ?? null;
  if (uid === 0) {
    const postgres = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, postgres, postgres);
  }
  const data = path.join(dir, 'data');
  asOwner(uid, path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  const settings = [
    "listen_addresses=''",
    `unix_socket_directories=${dir}`,
    `max_connections=${options.maxConnections ?? 400}`,
    'shared_buffers=256MB',
    'jit=off',
    ...(options.durable ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']),
  ];
  asOwner(uid, path.join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    path.join(dir, 'server.log'),
    '-w',
    '-o',
    settings.map((s) => `-c ${s}`).join(' '),
    'start',
  ]);
  const adminUrl = `postgresql://postgres@localhost/postgres?host=${dir}`;
  const stop = async () => {
    spawnSync(uid === 0 ? 'runuser' : path.join(bin, 'pg_ctl'), [
      ...(uid === 0 ? ['-u', 'postgres', '--', path.join(bin, 'pg_ctl')] : []),
      '-D',
      data,
      '-m',
      'immediate',
      'stop',
    ]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const admin = new pg.Client(adminUrl);
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
    await admin.end();
    const template = new pg.Client(adminUrl.replace('/postgres?', `/${TEMPLATE_DATABASE}?`));
    await template.connect();
    await template.query('CREATE EXTENSION vector');
    await template.end();
    return { adminUrl, dir, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
