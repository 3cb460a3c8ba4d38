/**
 * Composition root: config → database → encoders → services → the role's jobs and HTTP, each a
 * step below. Used by main.ts and by the tests, which start the real thing on a free port.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './database/database.ts';
import { OnnxEncoder } from './inference/onnx-encoder.ts';
import type { Logger } from './logger.ts';
import { assertPortFree, startHttpServer } from './http/server.ts';
import { createMetrics } from './http/metrics.ts';
import { rootFields } from './graphql/schema.ts';
import { EmbeddingService } from './services/embedding-service.ts';
import { HealthService } from './services/health-service.ts';
import type { Services } from './services/index.ts';
import { HistoryService } from './services/history-service.ts';
import { MiningService } from './services/mining-service.ts';
import { ScoringService } from './services/scoring-service.ts';
import { TaxonomyService } from './services/taxonomy-service.ts';
import { FetchSlots } from './services/url-images.ts';
import { AdaptiveMemories } from './services/adaptive-memory.ts';
import { MiningRunner } from './jobs/mining-runner.ts';
import { buildSimilarityIndexes } from './jobs/similarity-indexes.ts';
import { Lifecycle } from './lib/lifecycle.ts';
import { CorpusEmbeddingRepository } from './repositories/corpus-embedding-repository.ts';
import { MiningJobRepository } from './repositories/mining-job-repository.ts';
import { NegativeSetRepository } from './repositories/negative-set-repository.ts';
import { ScoringRecordRepository } from './repositories/scoring-record-repository.ts';
import { TaxonomyRepository } from './repositories/taxonomy-repository.ts';
import { AccessRepository } from './repositories/access-repository.ts';
import { AccessService } from './services/access-service.ts';
import { HistoryLogRepository } from './repositories/history-log-repository.ts';
import { HistoryLogService } from './services/history-log-service.ts';
import { HistorySealer, loadSigningKey } from './jobs/history-sealer.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** A bound IP address in 127.0.0.0/8 or ::1 (names are not addresses: `127.0.0.1.evil.example` is not). */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.split('.')[0] === '127';
  return isIPv6(address) && (address === '::1' || address === '0:0:0:0:0:0:0:1');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

export interface App {
  /** the HTTP base URL; null for a worker, which serves no HTTP */
  url: string | null;
  services: Services;
  database: Database;
  /** this process's history sealer (roles all and worker), else null */
  sealer: HistorySealer | null;
  close(): Promise<void>;
}

/** The API's base URL of an app that serves one (roles all and api). */
export function apiUrl(app: App): string {
  if (!app.url) throw new Error('this process serves no HTTP (NEGLABEL_ROLE=worker)');
  return app.url;
}

/** NOTIFY channel that tells workers a mining job was queued. */
const JOBS_CHANNEL = 'neglabel_mining_jobs';

/** The parts of a process that the roles share: the database, the encoders and the services over them. */
interface Core {
  database: Database;
  encoder: OnnxEncoder;
  services: Services;
  records: ScoringRecordRepository;
  historyLog: HistoryLogRepository;
  runner: MiningRunner;
}

/**
 * Starts this process's role: `all` (API and mining), `api` (GraphQL and HTTP, never mining) or
 * `worker` (mining jobs, no HTTP). The `db` role is database-role.ts. Each step records what it
 * started in one lifecycle, which closes them in reverse, on close() and when a later step fails.
 */
export async function startApp(config: Config, logger: Logger): Promise<App> {
  const servesApi = config.role === 'all' || config.role === 'api';
  const runsJobs = config.role === 'all' || config.role === 'worker';
  // a taken port is found before a database is created or opened
  if (servesApi) await assertPortFree(config.host, config.port);
  // so is a signing key that cannot be read
  const signingKey = runsJobs ? loadSigningKey(config.historySigningKey, config.historySigningKeyFile, logger) : null;
  const lifecycle = new Lifecycle((name, ms) => logger.debug({ ms }, `${name} stopped`));
  try {
    const core = await startCore(config, logger, lifecycle, runsJobs);
    const { services, database, encoder } = core;
    if (servesApi) await startAccess(config, services, logger);
    const sealer = runsJobs ? await startJobs(config, core, signingKey!, logger, lifecycle) : null;
    const url = servesApi ? await startApi(config, core, logger, lifecycle) : null;
    logger.info(
      {
        role: config.role,
        url: url ? `${url}/graphql` : null,
        embeddedDatabase: database.embedded,
        models: encoder.models().map((m) => ({ id: m.id, loaded: m.loaded })),
      },
      url ? 'neglabel listening' : 'neglabel worker taking mining jobs',
    );
    // order matters: stop taking requests (in-flight ones finish), let the job checkpoint, then
    // release the workers and the database
    return { url, services, database, sealer, close: () => lifecycle.stopAll() };
  } catch (error) {
    await lifecycle.stopAll().catch((stopError) => logger.warn({ err: stopError }, 'start-up cleanup failed'));
    throw error;
  }
}

/** The database, the encoders, the repositories and the services (nothing runs on its own yet). */
async function startCore(config: Config, logger: Logger, lifecycle: Lifecycle, runsJobs: boolean): Promise<Core> {
  const database = await openDatabase(
    {
      databaseUrl: config.databaseUrl,
      migrationDatabaseUrl: config.migrationDatabaseUrl,
      role: config.databaseRole,
      dataDir: config.dataDir,
      poolSize: config.dbPoolSize,
      migrationsDir: config.migrationsDir,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
      ddlLockTimeoutMs: config.ddlLockTimeoutMs,
      ddlStatementTimeoutMs: config.ddlStatementTimeoutMs,
      minFreeDiskBytes: config.minFreeDiskBytes,
      embeddedThreadNice: config.databaseNice,
      applicationName: `neglabel ${config.role} pid ${process.pid}`,
    },
    (level, msg, fields) => logger[level](fields ?? {}, msg),
  );
  lifecycle.started('database', () => database.close());
  const encoder = await OnnxEncoder.start({
    modelsDir: config.modelsDir,
    defaultModelDir: config.defaultModelDir,
    workers: config.encoderWorkers,
    settings: {
      executionProviders: config.executionProviders,
      preprocessing: config.preprocessing,
      threadNice: config.encoderNice,
    },
    maxBatchSize: config.batchMaxSize,
    batchWindowMs: config.batchWindowMs,
    maxImagePixels: config.maxImagePixels,
    cacheEntries: config.embeddingCacheEntries,
    onLog: (level, message, fields) => logger[level](fields ?? {}, message),
  });
  lifecycle.started('encoders', () => encoder.close());
  const { prisma, pool } = database;
  const jobs = new MiningJobRepository(prisma, pool);
  const sets = new NegativeSetRepository(prisma, pool);
  const records = new ScoringRecordRepository(pool, database.ddl, database.server, config.idempotencyWindowHours);
  const embeddings = new EmbeddingService(encoder, {
    maxTexts: config.maxTextsPerRequest,
    maxImages: config.maxImagesPerRequest,
    maxTextChars: config.maxTextChars,
    maxTextCharsPerRequest: config.maxTextCharsPerRequest,
    maxPixelsPerRequest: config.maxPixelsPerRequest,
    maxImagePixels: config.maxImagePixels,
    maxFileBytes: config.maxUploadBytes,
    maxRequestBytes: config.maxBodyBytes,
    url: {
      allowPrivate: config.allowPrivateUrls,
      connectTimeoutMs: config.urlConnectTimeoutMs,
      totalTimeoutMs: config.urlTimeoutMs,
      maxBytes: config.maxUploadBytes,
      maxRedirects: 3,
      slots: new FetchSlots(config.urlFetchConcurrency, config.urlFetchPerHost),
    },
    keepUrlQuery: config.keepUrlQuery,
  });
  const taxonomies = new TaxonomyService(new TaxonomyRepository(prisma, pool), encoder);
  const runner = new MiningRunner(
    jobs,
    sets,
    new CorpusEmbeddingRepository(pool),
    taxonomies,
    encoder,
    database.storage,
    logger,
    {
      pollMs: config.jobPollMs,
      leaseSeconds: config.jobLeaseSeconds,
      // The embedded database belongs to this process alone: whatever was running died with the last one.
      soleWorker: database.embedded,
      mathThreadNice: config.encoderNice,
    },
  );
  const historyLog = new HistoryLogRepository(pool);
  const services: Services = {
    encoder,
    storage: database.storage,
    health: new HealthService(pool, database.embedded, database.storage, config.migrationsDir, encoder, VERSION),
    embeddings,
    taxonomies,
    mining: new MiningService(taxonomies, jobs, sets, () => {
      if (runsJobs) runner.poke();
      // workers in other processes wake at once (they also poll, for databases that cannot notify)
      database
        .notify(JOBS_CHANNEL)
        .catch((error) =>
          logger.warn({ err: error }, 'could not notify workers of a queued job: they find it at their next poll'),
        );
    }),
    scoring: new ScoringService(
      taxonomies,
      embeddings,
      sets,
      records,
      encoder,
      new AdaptiveMemories(records, config.memoryPolicy),
    ),
    history: new HistoryService(records),
    historyLog: new HistoryLogService(historyLog),
    access: new AccessService(new AccessRepository(prisma), config.keyCacheSeconds * 1000),
  };
  return { database, encoder, services, records, historyLog, runner };
}

/** Keys: the bootstrap admin key, and open mode only on loopback. */
async function startAccess(config: Config, services: Services, logger: Logger): Promise<void> {
  await services.access.start(config.adminKey);
  if (services.access.isOpen && !isLoopback(config.host)) {
    throw new Error(
      `HOST=${config.host} is not a loopback address and no API key exists: set NEGLABEL_ADMIN_KEY (then ` +
        `create keys with createApiKey), or bind to 127.0.0.1`,
    );
  }
  if (services.access.isOpen)
    logger.warn(
      'no API key exists: running open (every caller is an anonymous admin) on loopback only; set ' +
        'NEGLABEL_ADMIN_KEY to require keys',
    );
}

/**
 * The background work of roles all and worker: mining jobs, the history sealer, the hourly purge
 * of expired rows, and (on a server) waking on queued jobs at once.
 */
async function startJobs(
  config: Config,
  { runner, historyLog, services, database }: Core,
  signingKey: NonNullable<ReturnType<typeof loadSigningKey>>,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<HistorySealer> {
  await runner.start();
  lifecycle.started('mining runner', () => runner.stop());
  // the processes that run jobs seal the history; one at a time seals (history-log-repository.ts)
  const sealer = new HistorySealer(historyLog, signingKey, logger, {
    intervalMs: config.historySealIntervalMs,
    batchSize: 5_000,
  });
  await sealer.start();
  lifecycle.started('history sealer', () => sealer.stop());
  // thumbnails past their taxonomy's retention and idempotency keys past their window are
  // deleted (reads never show them anyway)
  const purge = () =>
    Promise.all([
      services.history.purgeExpiredThumbnails(new Date()),
      services.history.purgeExpiredIdempotencyKeys(),
    ]).then(
      ([thumbnails, idempotencyKeys]) =>
        thumbnails + idempotencyKeys > 0 && logger.info({ thumbnails, idempotencyKeys }, 'expired rows deleted'),
      (error) => logger.warn({ err: error }, 'could not delete expired rows: retrying in an hour'),
    );
  void purge();
  const retention = setInterval(purge, 3_600_000);
  retention.unref();
  lifecycle.started('thumbnail retention', () => clearInterval(retention));
  if (!database.embedded) {
    const stopListening = await database
      .listen(JOBS_CHANNEL, () => runner.poke())
      .catch((error) => {
        logger.warn({ err: error }, 'cannot LISTEN for queued jobs: polling only');
        return undefined;
      });
    if (stopListening) lifecycle.started('job notifications', stopListening);
  }
  return sealer;
}

/** The API of roles all and api: similarity indexes in the background, metrics, HTTP. Returns its URL. */
async function startApi(config: Config, core: Core, logger: Logger, lifecycle: Lifecycle): Promise<string> {
  const { services, encoder, records, runner, database } = core;
  // similarity search is the API's: its indexes are built in the background, never on a request
  const indexBuilds = buildSimilarityIndexes(records, encoder.models(), logger);
  lifecycle.started('similarity index builds', () => indexBuilds.stop());
  const metrics = createMetrics({
    encoder,
    scoring: services.scoring,
    pool: database.pool,
    rootFields,
    miningProgress: () => runner.current,
    historyBacklog: () => services.historyLog.backlog(),
  });
  const http = await startHttpServer(config, services, logger, metrics);
  lifecycle.started('http', () => http.close());
  const bound = (http.server.address() as { address: string }).address;
  if (services.access.isOpen && !isLoopbackAddress(bound)) {
    // HOST passed the name check but resolved elsewhere: never serve open mode off loopback
    throw new Error(
      `HOST=${config.host} bound to ${bound}, which is not a loopback address, and no API key exists: set ` +
        `NEGLABEL_ADMIN_KEY or bind to 127.0.0.1`,
    );
  }
  return http.url;
}
