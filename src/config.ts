/**
 * Environment, parsed once, validated, frozen. Every variable is listed in the README.
 */
import os from 'node:os';
import path from 'node:path';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  /** owner role for migrations and runtime DDL (NEGLABEL_MIGRATION_DATABASE_URL); default DATABASE_URL */
  migrationDatabaseUrl?: string;
  /** a role to SET on every runtime connection (NEGLABEL_DATABASE_ROLE) */
  databaseRole?: string;
  dbPoolSize: number;
  /** external Postgres only: statement_timeout and idle_in_transaction_session_timeout, ms */
  dbStatementTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  /** free space kept on the embedded database's disk: writes stop below it (NEGLABEL_MIN_FREE_DISK_MB) */
  minFreeDiskBytes: number;
  /** how long a SIGTERM may take before the process exits anyway */
  shutdownTimeoutMs: number;
  migrationsDir: string;
  modelsDir: string;
  defaultModelDir?: string;
  encoderWorkers: number;
  batchMaxSize: number;
  batchWindowMs: number;
  embeddingCacheEntries: number;
  maxImagePixels: number;
  maxImagesPerRequest: number;
  maxTextsPerRequest: number;
  maxTextChars: number;
  maxBodyBytes: number;
  maxResponseBytes: number;
  /** per-request budgets: decoded pixels over all images, characters over all texts */
  maxPixelsPerRequest: number;
  maxTextCharsPerRequest: number;
  logLevel: string;
  jobPollMs: number;
  rateLimitPerMinute: number;
  /** encoder-heavy operations in flight per API key (or address); 0 = unbounded */
  maxInFlightPerKey: number;
  maxQueryDepth: number;
  maxQueryAliases: number;
  maxQueryFields: number;
  /** bootstrap admin API key (NEGLABEL_ADMIN_KEY) */
  adminKey?: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw} is invalid: expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** A Postgres role name, quoted as an identifier is only when plain: refuse anything else. */
function role(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new Error(`NEGLABEL_DATABASE_ROLE=${raw} is invalid: use a plain lower-case role name`);
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, root = process.cwd()): Readonly<Config> {
  return Object.freeze({
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 4000, 0, 65535),
    dataDir: path.resolve(root, env.NEGLABEL_DATA_DIR || 'data'),
    databaseUrl: env.DATABASE_URL || undefined,
    migrationDatabaseUrl: env.NEGLABEL_MIGRATION_DATABASE_URL || undefined,
    databaseRole: role(env.NEGLABEL_DATABASE_ROLE),
    dbPoolSize: int(env, 'NEGLABEL_DB_POOL_SIZE', 8, 1, 100),
    dbStatementTimeoutMs: int(env, 'NEGLABEL_DB_STATEMENT_TIMEOUT_MS', 60_000, 0),
    dbIdleInTransactionTimeoutMs: int(env, 'NEGLABEL_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000, 0),
    minFreeDiskBytes: int(env, 'NEGLABEL_MIN_FREE_DISK_MB', 256, 0, 1_000_000_000) * 1_048_576,
    shutdownTimeoutMs: int(env, 'NEGLABEL_SHUTDOWN_TIMEOUT_MS', 30_000, 1000),
    migrationsDir: path.resolve(root, 'migrations'),
    modelsDir: path.resolve(root, env.NEGLABEL_MODELS_DIR || 'models'),
    defaultModelDir: env.NEGLABEL_MODEL_DIR ? path.resolve(root, env.NEGLABEL_MODEL_DIR) : undefined,
    encoderWorkers: int(env, 'NEGLABEL_ENCODER_WORKERS', Math.max(1, os.availableParallelism()), 1, 64),
    batchMaxSize: int(env, 'NEGLABEL_BATCH_MAX_SIZE', 32, 1, 1024),
    batchWindowMs: int(env, 'NEGLABEL_BATCH_WINDOW_MS', 5, 0, 1000),
    embeddingCacheEntries: int(env, 'NEGLABEL_EMBEDDING_CACHE_ENTRIES', 20000, 0),
    maxImagePixels: int(env, 'NEGLABEL_MAX_IMAGE_PIXELS', 40_000_000, 1),
    maxImagesPerRequest: int(env, 'NEGLABEL_MAX_IMAGES_PER_REQUEST', 256, 1),
    maxTextsPerRequest: int(env, 'NEGLABEL_MAX_TEXTS_PER_REQUEST', 4096, 1),
    maxTextChars: int(env, 'NEGLABEL_MAX_TEXT_CHARS', 2000, 1, 10_000_000),
    maxBodyBytes: int(env, 'NEGLABEL_MAX_BODY_BYTES', 64 * 1024 * 1024, 1024),
    maxResponseBytes: int(env, 'NEGLABEL_MAX_RESPONSE_BYTES', 32 * 1024 * 1024, 1024),
    maxPixelsPerRequest: int(env, 'NEGLABEL_MAX_PIXELS_PER_REQUEST', 200_000_000, 1),
    maxTextCharsPerRequest: int(env, 'NEGLABEL_MAX_TEXT_CHARS_PER_REQUEST', 400_000, 1),
    logLevel: env.LOG_LEVEL || 'info',
    jobPollMs: int(env, 'NEGLABEL_JOB_POLL_MS', 500, 10),
    adminKey: env.NEGLABEL_ADMIN_KEY || undefined,
    rateLimitPerMinute: int(env, 'NEGLABEL_RATE_LIMIT_PER_MINUTE', 6000, 0),
    maxInFlightPerKey: int(env, 'NEGLABEL_MAX_IN_FLIGHT_PER_KEY', 8, 0),
    maxQueryDepth: int(env, 'NEGLABEL_MAX_QUERY_DEPTH', 12, 2),
    maxQueryAliases: int(env, 'NEGLABEL_MAX_QUERY_ALIASES', 20, 0),
    maxQueryFields: int(env, 'NEGLABEL_MAX_QUERY_FIELDS', 400, 10),
  });
}
