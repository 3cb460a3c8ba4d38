/**
 * Environment, parsed once, validated, frozen. Every variable is listed in the README.
 */
import { DEFAULT_MEMORY_POLICY, type MemoryPolicy } from './neglabel/memory.ts';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionProvider, PreprocessingMode } from './inference/protocol.ts';

/**
 * What this process does (NEGLABEL_ROLE): everything, the API only, mining jobs only, or serve the
 * embedded database.
 */
export type ProcessRole = 'all' | 'api' | 'worker' | 'db';
const ROLES: readonly ProcessRole[] = ['all', 'api', 'worker', 'db'];

/** Private addresses image URLs may reach anyway (NEGLABEL_ALLOW_PRIVATE_URLS): all, some subnets, or none. */
export type PrivateAddressAllowance = 'all' | net.BlockList | null;

export function parseAllowPrivate(raw: string | undefined): PrivateAddressAllowance {
  if (!raw) return null;
  if (raw === '1') return 'all';
  const list = new net.BlockList();
  for (const entry of raw.split(',').map((e) => e.trim())) {
    const [address, bits] = entry.split('/');
    const family = net.isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
      throw new Error(`NEGLABEL_ALLOW_PRIVATE_URLS=${raw} is invalid: use 1, or addresses and subnets like 10.0.0.0/8`);
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

export interface Config {
  role: ProcessRole;
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  /** owner role for migrations and runtime DDL (NEGLABEL_MIGRATION_DATABASE_URL); default DATABASE_URL */
  migrationDatabaseUrl?: string;
  /** a role to SET on every runtime connection (NEGLABEL_DATABASE_ROLE) */
  databaseRole?: string;
  dbPoolSize: number;
  /** connections the `db` role's embedded database accepts from all processes together */
  dbMaxConnections: number;
  /** external Postgres only: statement_timeout and idle_in_transaction_session_timeout, ms */
  dbStatementTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  /** DDL sessions (migrations, similarity-index builds): lock wait and statement limits, ms */
  ddlLockTimeoutMs: number;
  ddlStatementTimeoutMs: number;
  /** free space kept on the embedded database's disk: writes stop below it (NEGLABEL_MIN_FREE_DISK_MB) */
  minFreeDiskBytes: number;
  /** nice value of the embedded database's thread in the all-in-one mode (NEGLABEL_DATABASE_NICE) */
  databaseNice: number;
  /** HTTP keep-alive idle timeout and headers timeout (keep them above the load balancer's idle timeout) */
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  /** the whole request (headers and body) must arrive within this */
  bodyTimeoutMs: number;
  /** open connections at once; more are refused by the kernel's accept queue */
  maxConnections: number;
  /** how long a SIGTERM may take before the process exits anyway */
  shutdownTimeoutMs: number;
  migrationsDir: string;
  modelsDir: string;
  defaultModelDir?: string;
  encoderWorkers: number;
  /** onnxruntime execution providers in order of preference (NEGLABEL_EXECUTION_PROVIDERS) */
  executionProviders: ExecutionProvider[];
  /** image preprocessing (NEGLABEL_PREPROCESSING): exact (Pillow parity) or fast (libvips) */
  preprocessing: PreprocessingMode;
  /** nice value of the encoder and mining-math threads (NEGLABEL_ENCODER_NICE): they yield to the rest */
  encoderNice: number;
  batchMaxSize: number;
  batchWindowMs: number;
  embeddingCacheEntries: number;
  maxImagePixels: number;
  maxImagesPerRequest: number;
  maxTextsPerRequest: number;
  maxTextChars: number;
  maxBodyBytes: number;
  /** per uploaded file or image fetched from a URL (NEGLABEL_MAX_UPLOAD_BYTES) */
  maxUploadBytes: number;
  /** deadline of a request without x-request-timeout-ms (NEGLABEL_REQUEST_TIMEOUT_MS; 0: none) */
  requestTimeoutMs: number;
  /** private addresses image URLs may reach anyway (NEGLABEL_ALLOW_PRIVATE_URLS: 1, or subnets) */
  allowPrivateUrls: PrivateAddressAllowance;
  urlConnectTimeoutMs: number;
  urlTimeoutMs: number;
  /** outbound image fetches this process runs at once, in all and to one host */
  urlFetchConcurrency: number;
  urlFetchPerHost: number;
  /** NEGLABEL_HISTORY_URL_QUERY=keep: the history keeps image URLs' query strings */
  keepUrlQuery: boolean;
  maxResponseBytes: number;
  /** per-request budgets: decoded pixels over all images, characters over all texts */
  maxPixelsPerRequest: number;
  maxTextCharsPerRequest: number;
  logLevel: string;
  jobPollMs: number;
  /** how long a worker holds a mining job without renewing it (NEGLABEL_JOB_LEASE_SECONDS) */
  jobLeaseSeconds: number;
  /** how often the history sealer appends new records to the log and signs a checkpoint; 0: never */
  historySealIntervalMs: number;
  /**
   * the Ed25519 key that signs history checkpoints: PKCS#8 PEM text (NEGLABEL_HISTORY_SIGNING_KEY),
   * else this file (NEGLABEL_HISTORY_SIGNING_KEY_FILE, default <data dir>/history-signing-key.pem,
   * created 0600 when missing)
   */
  historySigningKey?: string;
  historySigningKeyFile: string;
  /** how long a scoreImages idempotency key answers with its first request */
  idempotencyWindowHours: number;
  /** adaptive memories: size, share of the history and per-caller share (NEGLABEL_MEMORY_*) */
  memoryPolicy: MemoryPolicy;
  rateLimitPerMinute: number;
  /** how long a verified API key is trusted before it is looked up again (NEGLABEL_KEY_CACHE_SECONDS) */
  keyCacheSeconds: number;
  /** encoder-heavy operations in flight per API key (or address); 0 = unbounded */
  maxInFlightPerKey: number;
  maxQueryDepth: number;
  maxQueryAliases: number;
  maxQueryFields: number;
  /** bootstrap admin API key (NEGLABEL_ADMIN_KEY) */
  adminKey?: string;
}

function int(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw} is invalid: expected an integer from ${min} to ${max}`);
  }
  return value;
}

function fraction(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0 && value <= 1)) throw new Error(`${name}=${raw} is invalid: expected a number in (0, 1]`);
  return value;
}

/** NEGLABEL_HISTORY_URL_QUERY: `strip` (the default) or `keep`. */
function historyUrlQuery(raw: string | undefined): boolean {
  if (!raw || raw === 'strip') return false;
  if (raw === 'keep') return true;
  throw new Error(`NEGLABEL_HISTORY_URL_QUERY=${raw} is invalid: use strip (the default) or keep`);
}

/** A Postgres role name, quoted as an identifier is only when plain: refuse anything else. */
function databaseRole(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw))
    throw new Error(`NEGLABEL_DATABASE_ROLE=${raw} is invalid: use a plain lower-case role name`);
  return raw;
}

const PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'cuda', 'tensorrt'];

function executionProviders(raw: string | undefined): ExecutionProvider[] {
  const listed = (raw || 'cpu')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const unknown = listed.filter((p) => !(PROVIDERS as readonly string[]).includes(p));
  if (listed.length === 0 || unknown.length > 0 || new Set(listed).size !== listed.length) {
    throw new Error(
      `NEGLABEL_EXECUTION_PROVIDERS=${raw} is invalid: list some of ${PROVIDERS.join(', ')} once each, in order of ` +
        `preference (for example tensorrt,cuda,cpu)`,
    );
  }
  return listed as ExecutionProvider[];
}

function preprocessingMode(raw: string | undefined): PreprocessingMode {
  if (!raw || raw === 'exact') return 'exact';
  if (raw === 'fast') return 'fast';
  throw new Error(
    `NEGLABEL_PREPROCESSING=${raw} is invalid: use exact (Pillow-exact resizing, reference parity) or fast ` +
      `(libvips resizing)`,
  );
}

function processRole(raw: string | undefined): ProcessRole {
  if (!raw) return 'all';
  if (!(ROLES as readonly string[]).includes(raw))
    throw new Error(`NEGLABEL_ROLE=${raw} is invalid: use ${ROLES.join(', ')}`);
  return raw as ProcessRole;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, root = process.cwd()): Readonly<Config> {
  const role = processRole(env.NEGLABEL_ROLE);
  if ((role === 'api' || role === 'worker') && !env.DATABASE_URL) {
    throw new Error(
      `NEGLABEL_ROLE=${role} shares a database with other processes: set DATABASE_URL to a Postgres with pgvector, ` +
        `or to the socket of a NEGLABEL_ROLE=db process (postgresql://postgres@localhost/postgres?host=<its ` +
        `absolute NEGLABEL_DATA_DIR>)`,
    );
  }
  if (role === 'db' && env.DATABASE_URL)
    throw new Error('NEGLABEL_ROLE=db serves the embedded database of NEGLABEL_DATA_DIR: unset DATABASE_URL');
  return Object.freeze({
    role,
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 4000, 0, 65535),
    dataDir: path.resolve(root, env.NEGLABEL_DATA_DIR || 'data'),
    databaseUrl: env.DATABASE_URL || undefined,
    migrationDatabaseUrl: env.NEGLABEL_MIGRATION_DATABASE_URL || undefined,
    databaseRole: databaseRole(env.NEGLABEL_DATABASE_ROLE),
    dbPoolSize: int(env, 'NEGLABEL_DB_POOL_SIZE', 8, 1, 100),
    dbMaxConnections: int(env, 'NEGLABEL_DB_MAX_CONNECTIONS', 64, 2, 1000),
    dbStatementTimeoutMs: int(env, 'NEGLABEL_DB_STATEMENT_TIMEOUT_MS', 60_000, 0),
    dbIdleInTransactionTimeoutMs: int(env, 'NEGLABEL_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000, 0),
    ddlLockTimeoutMs: int(env, 'NEGLABEL_DDL_LOCK_TIMEOUT_MS', 5_000, 1),
    ddlStatementTimeoutMs: int(env, 'NEGLABEL_DDL_STATEMENT_TIMEOUT_MS', 3_600_000, 1),
    minFreeDiskBytes: int(env, 'NEGLABEL_MIN_FREE_DISK_MB', 256, 0, 1_000_000_000) * 1_048_576,
    databaseNice: int(env, 'NEGLABEL_DATABASE_NICE', 10, 0, 19),
    keepAliveTimeoutMs: int(env, 'NEGLABEL_KEEP_ALIVE_TIMEOUT_MS', 65_000, 1000),
    headersTimeoutMs: int(env, 'NEGLABEL_HEADERS_TIMEOUT_MS', 66_000, 1000),
    bodyTimeoutMs: int(env, 'NEGLABEL_BODY_TIMEOUT_MS', 120_000, 1000),
    maxConnections: int(env, 'NEGLABEL_MAX_CONNECTIONS', 1024, 1),
    shutdownTimeoutMs: int(env, 'NEGLABEL_SHUTDOWN_TIMEOUT_MS', 30_000, 1000),
    migrationsDir: path.resolve(root, 'migrations'),
    modelsDir: path.resolve(root, env.NEGLABEL_MODELS_DIR || 'models'),
    defaultModelDir: env.NEGLABEL_MODEL_DIR ? path.resolve(root, env.NEGLABEL_MODEL_DIR) : undefined,
    executionProviders: executionProviders(env.NEGLABEL_EXECUTION_PROVIDERS),
    preprocessing: preprocessingMode(env.NEGLABEL_PREPROCESSING),
    encoderNice: int(env, 'NEGLABEL_ENCODER_NICE', 15, 0, 19),
    encoderWorkers: int(env, 'NEGLABEL_ENCODER_WORKERS', Math.max(1, os.availableParallelism()), 1, 64),
    batchMaxSize: int(env, 'NEGLABEL_BATCH_MAX_SIZE', 32, 1, 1024),
    batchWindowMs: int(env, 'NEGLABEL_BATCH_WINDOW_MS', 5, 0, 1000),
    embeddingCacheEntries: int(env, 'NEGLABEL_EMBEDDING_CACHE_ENTRIES', 20000, 0),
    maxImagePixels: int(env, 'NEGLABEL_MAX_IMAGE_PIXELS', 40_000_000, 1),
    maxImagesPerRequest: int(env, 'NEGLABEL_MAX_IMAGES_PER_REQUEST', 256, 1),
    maxTextsPerRequest: int(env, 'NEGLABEL_MAX_TEXTS_PER_REQUEST', 4096, 1),
    maxTextChars: int(env, 'NEGLABEL_MAX_TEXT_CHARS', 2000, 1, 10_000_000),
    maxBodyBytes: int(env, 'NEGLABEL_MAX_BODY_BYTES', 64 * 1024 * 1024, 1024),
    maxUploadBytes: int(env, 'NEGLABEL_MAX_UPLOAD_BYTES', 32 * 1024 * 1024, 1024),
    allowPrivateUrls: parseAllowPrivate(env.NEGLABEL_ALLOW_PRIVATE_URLS),
    requestTimeoutMs: int(env, 'NEGLABEL_REQUEST_TIMEOUT_MS', 120_000, 0, 86_400_000),
    urlConnectTimeoutMs: int(env, 'NEGLABEL_URL_CONNECT_TIMEOUT_MS', 5000, 1),
    urlTimeoutMs: int(env, 'NEGLABEL_URL_TIMEOUT_MS', 20_000, 1),
    urlFetchConcurrency: int(env, 'NEGLABEL_URL_FETCH_CONCURRENCY', 32, 1, 10_000),
    urlFetchPerHost: int(env, 'NEGLABEL_URL_FETCH_PER_HOST', 4, 1, 10_000),
    keepUrlQuery: historyUrlQuery(env.NEGLABEL_HISTORY_URL_QUERY),
    maxResponseBytes: int(env, 'NEGLABEL_MAX_RESPONSE_BYTES', 32 * 1024 * 1024, 1024),
    maxPixelsPerRequest: int(env, 'NEGLABEL_MAX_PIXELS_PER_REQUEST', 200_000_000, 1),
    maxTextCharsPerRequest: int(env, 'NEGLABEL_MAX_TEXT_CHARS_PER_REQUEST', 400_000, 1),
    logLevel: env.LOG_LEVEL || 'info',
    jobPollMs: int(env, 'NEGLABEL_JOB_POLL_MS', 500, 10),
    jobLeaseSeconds: int(env, 'NEGLABEL_JOB_LEASE_SECONDS', 60, 3, 86_400),
    historySealIntervalMs: int(env, 'NEGLABEL_HISTORY_SEAL_MS', 2_000, 0, 3_600_000),
    historySigningKey: env.NEGLABEL_HISTORY_SIGNING_KEY || undefined,
    historySigningKeyFile: path.resolve(
      root,
      env.NEGLABEL_HISTORY_SIGNING_KEY_FILE || path.join(env.NEGLABEL_DATA_DIR || 'data', 'history-signing-key.pem'),
    ),
    idempotencyWindowHours: int(env, 'NEGLABEL_IDEMPOTENCY_WINDOW_HOURS', 24, 1, 8760),
    memoryPolicy: {
      maxSize: int(env, 'NEGLABEL_MEMORY_SIZE', DEFAULT_MEMORY_POLICY.maxSize, 1, 1_000_000),
      maxFraction: fraction(env, 'NEGLABEL_MEMORY_FRACTION', DEFAULT_MEMORY_POLICY.maxFraction),
      maxCallerShare: fraction(env, 'NEGLABEL_MEMORY_CALLER_SHARE', DEFAULT_MEMORY_POLICY.maxCallerShare),
    },
    adminKey: env.NEGLABEL_ADMIN_KEY || undefined,
    rateLimitPerMinute: int(env, 'NEGLABEL_RATE_LIMIT_PER_MINUTE', 6000, 0),
    keyCacheSeconds: int(env, 'NEGLABEL_KEY_CACHE_SECONDS', 5, 0, 300),
    maxInFlightPerKey: int(env, 'NEGLABEL_MAX_IN_FLIGHT_PER_KEY', 8, 0),
    maxQueryDepth: int(env, 'NEGLABEL_MAX_QUERY_DEPTH', 12, 2),
    maxQueryAliases: int(env, 'NEGLABEL_MAX_QUERY_ALIASES', 20, 0),
    maxQueryFields: int(env, 'NEGLABEL_MAX_QUERY_FIELDS', 400, 10),
  });
}
