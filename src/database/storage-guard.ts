/**
 * Keeps the database off a full disk. PGlite does not survive one: measured on a 60 MB tmpfs, the
 * insert that hits ENOSPC fails with SQLSTATE 53100 and the next query spins forever (the WASM
 * backend never returns), so the embedded database must stop writing *before* the disk fills.
 * The guard reads the free space of the data folder's file system (cached for a second) and
 * refuses writes below a reserve; reads keep working, and /readyz says not ready.
 *
 * An external Postgres reports a full disk itself (53100 disk_full): the guard cannot see its
 * disk, so it remembers the last such error for a while and reports it the same way.
 */
import { statfsSync } from 'node:fs';
import { StorageFullError } from '../errors.ts';

/** How long an external database's disk-full error keeps the service not ready. */
const REPORTED_FULL_FOR_MS = 60_000;
const STATFS_CACHE_MS = 1_000;

export interface StorageStatus {
  full: boolean;
  /** free bytes on the embedded database's file system; null for an external database */
  freeBytes: number | null;
  /** what to do, when full */
  hint: string | null;
}

export class StorageGuard {
  private checkedAt = 0;
  private freeBytes: number | null = null;
  private reportedFullAt = 0;

  /**
   * @param dataDir the embedded database's folder, or null for an external database
   * @param minFreeBytes the reserve kept free (NEGLABEL_MIN_FREE_DISK_MB)
   */
  constructor(
    private readonly dataDir: string | null,
    private readonly minFreeBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** An external database said its disk is full. */
  noteDiskFull(): void {
    this.reportedFullAt = this.now();
  }

  status(): StorageStatus {
    const now = this.now();
    if (this.dataDir && now - this.checkedAt >= STATFS_CACHE_MS) {
      const stats = statfsSync(this.dataDir);
      this.freeBytes = stats.bavail * stats.bsize;
      this.checkedAt = now;
    }
    if (this.freeBytes !== null && this.freeBytes < this.minFreeBytes) {
      const mb = (bytes: number) => `${Math.floor(bytes / 1_048_576)} MB`;
      return {
        full: true,
        freeBytes: this.freeBytes,
        hint:
          // clients and /readyz read this: the folder is named by its variable, not its path
          `the disk of the data folder (NEGLABEL_DATA_DIR) has ${mb(this.freeBytes)} free, below the ` +
          `${mb(this.minFreeBytes)} ` +
          `reserve (NEGLABEL_MIN_FREE_DISK_MB): free space or move NEGLABEL_DATA_DIR to a larger disk; writes ` +
          `resume by themselves`,
      };
    }
    if (this.reportedFullAt && now - this.reportedFullAt < REPORTED_FULL_FOR_MS) {
      return {
        full: true,
        freeBytes: this.freeBytes,
        hint:
          'the database reported a full disk (SQLSTATE 53100): free space on the database server; writes ' +
          'resume by themselves',
      };
    }
    return { full: false, freeBytes: this.freeBytes, hint: null };
  }

  /** Throws STORAGE_FULL (nothing written) when the reserve is reached. */
  assertWritable(): void {
    const { full, hint } = this.status();
    if (full) throw new StorageFullError(`The service's storage is full, so nothing was written: ${hint}.`);
  }
}
