/** The embedded database on its own, as the service starts it (own thread, private socket), with no disk reserve. */
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.ts';
import { StorageGuard } from '../../src/database/storage-guard.ts';

export function startEmbeddedDatabase(
  dataDir: string,
  maxConnections = 4,
  idleInTransactionMs = 60_000,
  threadNice = 0,
) {
  return startEmbeddedPostgres(
    dataDir,
    { maxConnections, idleInTransactionMs, threadNice },
    new StorageGuard(dataDir, 0),
  );
}
