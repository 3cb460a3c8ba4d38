/**
 * The `db` role: this process serves the embedded database of NEGLABEL_DATA_DIR to the `api` and
 * `worker` processes of the same user, on the folder's Unix socket, and does nothing else. It
 * applies the migrations before anyone connects: the embedded database is one session, where the
 * migrations' advisory lock cannot keep two starting processes apart.
 */
import pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { serveEmbeddedPostgres } from './embedded-postgres.ts';
import { applyMigrations } from './migrate.ts';
import { StorageGuard } from './storage-guard.ts';

export async function startDatabaseRole(
  config: Config,
  logger: Logger,
): Promise<{ url: string; close(): Promise<void> }> {
  const database = await serveEmbeddedPostgres(
    config.dataDir,
    { maxConnections: config.dbMaxConnections, idleInTransactionMs: config.dbIdleInTransactionTimeoutMs },
    new StorageGuard(config.dataDir, config.minFreeDiskBytes),
    (message, error) => logger.warn({ err: error instanceof Error ? error.message : error }, message),
  );
  const owner = new pg.Pool({ connectionString: database.url, max: 1 });
  try {
    await applyMigrations(owner, config.migrationsDir, (message, fields) => logger.info(fields ?? {}, message));
  } catch (error) {
    await owner.end();
    await database.stop();
    throw error;
  }
  await owner.end();
  logger.info(
    { databaseUrl: database.url, maxConnections: config.dbMaxConnections },
    'embedded database serving other processes: give them this DATABASE_URL',
  );
  return { url: database.url, close: () => database.stop() };
}
