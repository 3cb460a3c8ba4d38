/** Health: is the database reachable, migrated and not out of disk, which models are loaded. */
import type pg from 'pg';
import { migrationStatus, readMigrations, type MigrationFile, type MigrationStatus } from '../database/migrate.ts';
import type { Encoder, ModelStatus } from '../inference/encoder.ts';
import type { StorageGuard } from '../database/storage-guard.ts';

/** How old a database probe may be and still answer a health check. */
const PROBE_MAX_AGE_MS = 1000;

export interface HealthReport {
  status: 'ok' | 'degraded';
  version: string;
  database: {
    reachable: boolean;
    embedded: boolean;
    appliedMigrations: string[];
    pendingMigrations: string[];
    error: string | null;
    storageOk: boolean;
    freeDiskBytes: number | null;
  };
  models: ModelStatus[];
  defaultModel: string | null;
  hint: string | null;
}

type DatabaseProbe = { status?: MigrationStatus; error?: string };

/**
 * A driver's message without the file paths in it (a socket's folder names the data folder): the
 * health report is public, and the log has the full message.
 */
function withoutPaths(message: string): string {
  return message.replace(/(?:\/[\w.@+-]+){2,}\/?/g, '<path>');
}

export class HealthService {
  /** the migrations this build ships, read once */
  private readonly migrations: MigrationFile[];

  private lastProbe: { startedAt: number; result: Promise<DatabaseProbe> } | null = null;
  /** the newest probe that answered, and when */
  private lastAnswer: { at: number; probe: DatabaseProbe } | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly embedded: boolean,
    private readonly storage: StorageGuard,
    migrationsDir: string,
    private readonly encoder: Encoder,
    private readonly version: string,
  ) {
    this.migrations = readMigrations(migrationsDir);
  }

  /**
   * The database round trip is bounded: a wedged database makes the report say unreachable
   * within `timeoutMs` instead of hanging the caller (load balancers probe /readyz). Probes are
   * shared: callers within PROBE_MAX_AGE_MS of a probe's start get its answer, so frequent health
   * checks do not add to the database's work. While a new probe runs, callers get the previous
   * one's success if it is recent enough that the new probe could not yet have timed out: a check
   * never queues behind the database's work (under load one probe in twenty did, and set the p95),
   * and a wedged database is still reported when the running probe times out, as before. A
   * failure is not answered from memory: once the database is back, the next probe says so.
   */
  async report(timeoutMs = 2000): Promise<HealthReport> {
    const storage = this.storage.status();
    const probe = await this.probeDatabase(timeoutMs);
    const database: HealthReport['database'] = {
      reachable: probe.status !== undefined,
      embedded: this.embedded,
      appliedMigrations: probe.status?.applied ?? [],
      pendingMigrations: probe.status?.pending ?? [],
      error: probe.error ?? null,
      storageOk: !storage.full,
      freeDiskBytes: storage.freeBytes,
    };
    const models = this.encoder.models();
    const defaultModel = models.find((m) => m.isDefault) ?? null;
    const hints: string[] = [];
    if (!database.reachable)
      hints.push(`the database is unreachable (${database.error}): check DATABASE_URL or the embedded data folder`);
    if (storage.hint) hints.push(storage.hint);
    if (database.pendingMigrations.length > 0) hints.push('migrations are pending: restart the service to apply them');
    if (!defaultModel)
      hints.push(
        'no model is installed: put a CLIP ONNX export in a folder under models/ or set NEGLABEL_MODEL_DIR, then ' +
          'restart',
      );
    else if (!defaultModel.loaded) hints.push(`the default model did not load: ${defaultModel.error}`);
    else if (defaultModel.providerFallback)
      hints.push(
        `the default model runs on ${defaultModel.executionProvider}, not a preferred provider ` +
          `(${defaultModel.providerFallback})`,
      );
    return {
      status: hints.length === 0 ? 'ok' : 'degraded',
      version: this.version,
      database,
      models,
      defaultModel: defaultModel?.id ?? null,
      hint: hints.length ? hints.join('; ') : null,
    };
  }

  private probeDatabase(timeoutMs: number): Promise<DatabaseProbe> {
    const now = Date.now();
    if (!this.lastProbe || now - this.lastProbe.startedAt >= PROBE_MAX_AGE_MS)
      this.lastProbe = { startedAt: now, result: this.runProbe(timeoutMs) };
    const answer = this.lastAnswer;
    if (answer?.probe.status && now - answer.at < PROBE_MAX_AGE_MS + timeoutMs) return Promise.resolve(answer.probe);
    return this.lastProbe.result;
  }

  private async runProbe(timeoutMs: number): Promise<DatabaseProbe> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    let probe: DatabaseProbe;
    try {
      probe = { status: await Promise.race([migrationStatus(this.pool, this.migrations), timeout]) };
    } catch (error) {
      probe = { error: withoutPaths((error as Error).message) };
    } finally {
      clearTimeout(timer);
    }
    this.lastAnswer = { at: Date.now(), probe };
    return probe;
  }
}
