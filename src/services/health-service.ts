/** Health: is the database reachable, migrated and not out of disk, which models are loaded. */
import type pg from 'pg';
import { migrationStatus, readMigrations, type MigrationFile } from '../database/migrate.ts';
import type { Encoder, ModelStatus } from '../inference/encoder.ts';
import type { StorageGuard } from '../database/storage-guard.ts';

export interface HealthReport {
  status: 'ok' | 'degraded';
  version: string;
  database: {
    reachable: boolean; embedded: boolean; appliedMigrations: string[]; pendingMigrations: string[]; error: string | null;
    storageOk: boolean; freeDiskBytes: number | null;
  };
  models: ModelStatus[];
  defaultModel: string | null;
  hint: string | null;
}

export class HealthService {
  /** the migrations this build ships, read once */
  private readonly migrations: MigrationFile[];

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
   * within `timeoutMs` instead of hanging the caller (load balancers probe /readyz).
   */
  async report(timeoutMs = 2000): Promise<HealthReport> {
    const storage = this.storage.status();
    const database: HealthReport['database'] = {
      reachable: false, embedded: this.embedded, appliedMigrations: [], pendingMigrations: [], error: null,
      storageOk: !storage.full, freeDiskBytes: storage.freeBytes,
    };
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const status = await Promise.race([migrationStatus(this.pool, this.migrations), timeout]).finally(() => clearTimeout(timer));
      Object.assign(database, { reachable: true, appliedMigrations: status.applied, pendingMigrations: status.pending });
    } catch (error) {
      database.error = (error as Error).message;
    }
    const models = this.encoder.models();
    const defaultModel = models.find((m) => m.isDefault) ?? null;
    const hints: string[] = [];
    if (!database.reachable) hints.push(`the database is unreachable (${database.error}): check DATABASE_URL or the embedded data folder`);
    if (storage.hint) hints.push(storage.hint);
    if (database.pendingMigrations.length > 0) hints.push('migrations are pending: restart the service to apply them');
    if (!defaultModel) hints.push('no model is installed: put a CLIP ONNX export in a folder under models/ or set NEGLABEL_MODEL_DIR, then restart');
    else if (!defaultModel.loaded) hints.push(`the default model did not load: ${defaultModel.error}`);
    else if (defaultModel.providerFallback) hints.push(`the default model runs on ${defaultModel.executionProvider}, not a preferred provider (${defaultModel.providerFallback})`);
    return {
      status: hints.length === 0 ? 'ok' : 'degraded',
      version: this.version,
      database,
      models,
      defaultModel: defaultModel?.id ?? null,
      hint: hints.length ? hints.join('; ') : null,
    };
  }
}
