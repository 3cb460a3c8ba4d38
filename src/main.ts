/** Entry point of `npm start` (and `npm run worker`): start this process's role, stop it cleanly on SIGINT/SIGTERM. */
import { startApp } from './app.ts';
import { startDatabaseRole } from './database/database-role.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  console.error(`neglabel could not start: ${(error as Error).message}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);

try {
  const app = config.role === 'db' ? await startDatabaseRole(config, logger) : await startApp(config, logger);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: finishing in-flight requests');
    // a wedged dependency must not keep the process alive forever: exit at the deadline
    setTimeout(() => {
      logger.error(
        { deadlineMs: config.shutdownTimeoutMs },
        'shutdown did not finish in time: exiting anyway (raise NEGLABEL_SHUTDOWN_TIMEOUT_MS if requests need longer)',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    try {
      await app.close();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (error) {
  // one line a person can act on; the stack only for whoever asked for it (LOG_LEVEL=debug)
  logger.debug({ err: error }, 'start-up failure');
  console.error(`neglabel could not start: ${(error as Error).message}`);
  process.exit(1);
}
