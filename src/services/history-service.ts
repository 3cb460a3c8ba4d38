/** The audit history: pages of scoring records and aggregates over them. */
import { isUuid } from './validation.ts';
import { InvalidInputError } from '../errors.ts';
import type { ScoringFilter, ScoringRecordRow } from '../domain/scoring-record.ts';
import type { ScoringRecordRepository } from '../repositories/scoring-record-repository.ts';
import { connection, decodePositionCursor, encodeCursor, validateFirst } from './pagination.ts';

/** How often a follower of the history or of a job looks again (other processes write too). */
export const FOLLOW_POLL_MS = 300;

/** Records per page of an export (one query each). */
const EXPORT_PAGE = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const INTERVALS = { HOUR: 'hour', DAY: 'day', WEEK: 'week' } as const;

function validate(filter: ScoringFilter | null | undefined): ScoringFilter {
  const f = filter ?? {};
  if (f.taxonomyId && !isUuid(f.taxonomyId))
    throw new InvalidInputError('filter.taxonomyId is not a taxonomy id.', { field: 'filter.taxonomyId' });
  if (f.version != null && f.taxonomyId == null)
    throw new InvalidInputError('filter.version needs filter.taxonomyId.', { field: 'filter.version' });
  return f;
}

export class HistoryService {
  constructor(private readonly records: ScoringRecordRepository) {}

  /** Deletes the thumbnails past their taxonomy's retention as of `asOf`; returns how many. */
  purgeExpiredThumbnails(asOf: Date): Promise<number> {
    return this.records.purgeExpiredThumbnails(asOf);
  }

  /** Deletes the idempotency keys past their window; returns how many. */
  purgeExpiredIdempotencyKeys(): Promise<number> {
    return this.records.purgeExpiredIdempotencyKeys();
  }

  async page(filter: ScoringFilter | null | undefined, first: number, after: string | null) {
    validateFirst(first, 500);
    const cursor = decodePositionCursor(after, 'scoringRecords');
    const { rows, hasNextPage } = await this.records.page(validate(filter), first, cursor);
    return connection(rows, hasNextPage, (node) => node.position, cursor);
  }

  record(id: string) {
    return this.records.find(id);
  }

  /**
   * Every record of a filter, newest first, a page at a time (constant memory for any size), each
   * with the cursor that resumes the export after it (the GraphQL connection's cursor).
   */
  async *exportRecords(
    filter: ScoringFilter | null | undefined,
    after: string | null,
  ): AsyncGenerator<{ cursor: string; record: ScoringRecordRow }> {
    const checked = validate(filter);
    let cursor = decodePositionCursor(after, 'scoringRecords');
    for (;;) {
      const { rows, hasNextPage } = await this.records.page(checked, EXPORT_PAGE, cursor);
      for (const record of rows) yield { cursor: encodeCursor(record.position), record };
      if (!hasNextPage || rows.length === 0) return;
      cursor = rows.at(-1)!.position;
    }
  }

  /**
   * A taxonomy's records as they are written, from now on, oldest first: the history read forward
   * from its newest position every `pollMs` (any process may have written them). Ends when the
   * consumer stops asking.
   */
  async *follow(taxonomyId: string, pollMs = FOLLOW_POLL_MS): AsyncGenerator<ScoringRecordRow> {
    let position = (await this.records.page({ taxonomyId }, 1, null)).rows[0]?.position ?? '0:0';
    for (;;) {
      const rows = await this.records.after(taxonomyId, position, 100);
      for (const row of rows) {
        position = row.position;
        yield row;
      }
      if (rows.length < 100) await sleep(pollMs);
    }
  }

  async stats(filter: ScoringFilter | null | undefined, interval: keyof typeof INTERVALS, bins: number) {
    if (!Number.isInteger(bins) || bins < 1 || bins > 100)
      throw new InvalidInputError('histogramBins must be from 1 to 100.', { field: 'histogramBins' });
    const s = await this.records.stats(validate(filter), INTERVALS[interval], bins);
    return {
      total: s.total,
      oodCount: s.ood,
      oodRate: s.total ? s.ood / s.total : 0,
      meanScore: s.mean,
      histogram: s.histogram,
      buckets: s.buckets.map((b) => ({
        start: b.start,
        total: b.total,
        oodCount: b.ood,
        oodRate: b.total ? b.ood / b.total : 0,
        meanScore: b.mean,
      })),
    };
  }
}
