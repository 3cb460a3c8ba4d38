/**
 * The verifiable history as the API shows it: the latest signed checkpoint, the keys that signed
 * checkpoints, inclusion proofs of records and audit entries, consistency proofs between tree
 * sizes, and the log's export (src/transparency/verify.ts reads it back).
 */
import { InvalidInputError } from '../errors.ts';
import type { HistoryLogRepository, StoredCheckpoint } from '../repositories/history-log-repository.ts';
import type { LeafKind } from '../transparency/leaf.ts';
import { consistencyRanges, inclusionRanges, type LeafRange, rangeHash } from '../transparency/merkle.ts';
import { checkpointToJson, EXPORT_FORMAT, type ExportLine } from '../transparency/verify.ts';

export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  leafHash: Buffer;
  hashes: Buffer[];
  checkpoint: StoredCheckpoint;
}

/** Leaves per page of the export (one query each). */
const EXPORT_PAGE = 2_000;

export class HistoryLogService {
  constructor(private readonly log: HistoryLogRepository) {}

  latestCheckpoint(): Promise<StoredCheckpoint | null> {
    return this.log.latestCheckpoint();
  }

  /** The keys that signed checkpoints; a key id is its fingerprint (checkpoint.ts). */
  signingKeys() {
    return this.log.signingKeys();
  }

  /** How many committed records and audit entries wait to be sealed, and the oldest one's age in seconds. */
  async backlog(): Promise<{ rows: number; oldestSeconds: number }> {
    const { rows, oldest } = await this.log.backlog();
    return { rows, oldestSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0 };
  }

  private hashes(ranges: LeafRange[]): Promise<Buffer[]> {
    return Promise.all(ranges.map(([start, end]) => rangeHash(this.log.readNodes, start, end)));
  }

  /** The proof that a record or audit entry is in the latest checkpoint; null while it is not sealed. */
  async inclusionProof(kind: LeafKind, recordId: string): Promise<InclusionProof | null> {
    const [leaf, checkpoint] = await Promise.all([this.log.leafOf(kind, recordId), this.log.latestCheckpoint()]);
    if (!leaf || !checkpoint || leaf.position >= checkpoint.treeSize) return null;
    return {
      leafIndex: leaf.position,
      treeSize: checkpoint.treeSize,
      leafHash: leaf.leafHash,
      hashes: await this.hashes(inclusionRanges(leaf.position, checkpoint.treeSize)),
      checkpoint,
    };
  }

  /** The proof that the tree of `toSize` leaves extends the one of `fromSize` (both within the latest checkpoint). */
  async consistencyProof(fromSize: number, toSize: number) {
    const latest = await this.log.latestCheckpoint();
    const size = latest?.treeSize ?? 0;
    if (!Number.isSafeInteger(fromSize) || !Number.isSafeInteger(toSize) || fromSize < 0 || fromSize > toSize)
      throw new InvalidInputError('fromSize must be from 0 to toSize.', { field: 'fromSize' });
    if (toSize > size)
      throw new InvalidInputError(`toSize must be at most the latest checkpoint's tree size, ${size}.`, {
        field: 'toSize',
      });
    return { fromSize, toSize, hashes: await this.hashes(consistencyRanges(fromSize, toSize)) };
  }

  /**
   * The log as JSON Lines values: the header, every signing key, every checkpoint, then the leaves
   * up to the latest checkpoint's size (what it signed), a page at a time. From a position above 0
   * (a resumed download) only the leaves from there on, to append to what arrived.
   */
  async *exportLines(fromPosition = 0): AsyncGenerator<ExportLine> {
    let last: StoredCheckpoint | null = null;
    if (fromPosition > 0) last = await this.log.latestCheckpoint();
    else {
      yield { type: 'header', format: EXPORT_FORMAT, version: 1, exportedAt: new Date().toISOString() };
      for (const key of await this.log.signingKeys()) yield { type: 'key', keyId: key.keyId, publicKey: key.publicKey };
      for (let after = 0; ; after = last!.treeSize) {
        const page = await this.log.checkpoints(after, 1_000);
        for (const c of page) yield { type: 'checkpoint', ...checkpointToJson(c) };
        last = page.at(-1) ?? last;
        if (page.length < 1_000) break;
      }
    }
    const end = last?.treeSize ?? 0;
    for (let position = fromPosition; position < end; ) {
      const leaves = await this.log.leaves(position, Math.min(EXPORT_PAGE, end - position));
      if (leaves.length === 0) break;
      for (const leaf of leaves)
        yield {
          type: 'leaf',
          position: leaf.position,
          kind: leaf.kind,
          recordId: leaf.recordId,
          leafHash: leaf.leafHash.toString('hex'),
          fields: leaf.fields,
        };
      position = leaves.at(-1)!.position + 1;
    }
  }
}
