/**
 * The history's exports, streamed (streaming.ts):
 *   GET /v1/history/log      the verifiable history log as JSON Lines (src/transparency/verify.ts
 *                            documents the lines); `?from=<position>` resumes with the leaves from
 *                            there on. Every taxonomy's records and the audit log: an admin or
 *                            auditor key without a taxonomy scope.
 *   GET /v1/history/records  the scoring records of a filter (the scoringRecords filter's fields as
 *                            parameters), newest first, as JSON Lines, each with the
 *                            cursor that resumes after it (`after=`); the keys and scopes of the
 *                            scoringRecords query. GET /v1/history/records.csv: the same as CSV.
 */
import type express from 'express';
import type { ScoringFilter, ScoringRecordRow } from '../domain/scoring-record.ts';
import { DomainError, InvalidInputError } from '../errors.ts';
import { scopedFilter } from '../graphql/scope.ts';
import type { StreamedRoute } from './streaming.ts';

function fromPosition(value: unknown): number {
  if (value === undefined) return 0;
  const from = Number(value);
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(from))
    throw new InvalidInputError('from must be a log position (a whole number from 0).', { field: 'from' });
  return from;
}

export const historyLogRoute: StreamedRoute = {
  operation: 'Query.auditLog',
  contentType: 'application/x-ndjson',
  filename: 'neglabel-history-log.jsonl',
  async *lines(admission, req) {
    if (admission.auth.taxonomyIds)
      throw new DomainError(
        'FORBIDDEN',
        "The history log holds every taxonomy's records: exporting it takes a key without a taxonomy scope.",
      );
    for await (const line of admission.services.historyLog.exportLines(fromPosition(req.query.from)))
      yield `${JSON.stringify(line)}\n`;
  },
};

/** The fields an auditor reads of a record, in the export's column order. */
function auditorFields(cursor: string, r: ScoringRecordRow) {
  return {
    cursor,
    id: r.id,
    createdAt: r.createdAt.toISOString(),
    caller: r.caller,
    taxonomyId: r.taxonomyId,
    taxonomyVersion: r.taxonomyVersion,
    taxonomyVersionId: r.taxonomyVersionId,
    negativeSetId: r.negativeSetId,
    model: r.modelId,
    imageHash: r.imageHash,
    filename: r.filename,
    url: r.sourceUrl,
    score: r.score,
    logitScore: r.logitScore,
    adaptiveScore: r.adaptive?.adaptiveScore ?? null,
    memorySnapshotId: r.adaptive?.memorySnapshotId ?? null,
    memorySize: r.adaptive?.memorySize ?? null,
    threshold: r.threshold,
    thresholdSpace: r.thresholdSpace,
    requestedThreshold: r.requested?.threshold ?? null,
    requestedThresholdSpace: r.requested?.thresholdSpace ?? null,
    requestedDecision: r.requested ? (r.requested.isOod ? 'OOD' : 'ID') : null,
    decision: r.isOod ? 'OOD' : 'ID',
    predictedLabel: r.predictedLabel,
    topLabels: r.topLabels,
    topNegatives: r.topNegatives,
  };
}

const COLUMNS = Object.keys(auditorFields('', { adaptive: null, requested: null, createdAt: new Date(0) } as never));

/**
 * One CSV cell (RFC 4180 quoting). Text that a spreadsheet would run as a formula (=, +, -, @ first)
 * gets a leading apostrophe, so opening an export runs nothing a caller wrote.
 */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The scoringRecords filter from query parameters (checked as the GraphQL arguments are). */
function filterOf(query: express.Request['query']): ScoringFilter {
  const text = (name: string) => {
    const value = query[name];
    if (value !== undefined && typeof value !== 'string')
      throw new InvalidInputError(`${name} must be given once.`, { field: name });
    return value === '' ? undefined : value;
  };
  const number = (name: string, integer = false) => {
    const value = text(name);
    if (value === undefined) return null;
    const n = Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)))
      throw new InvalidInputError(`${name} must be a${integer ? 'n integer' : ' number'}.`, { field: name });
    return n;
  };
  const time = (name: string) => {
    const value = text(name);
    if (value === undefined) return null;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new InvalidInputError(`${name} must be an ISO 8601 time.`, { field: name });
    return date;
  };
  const decision = text('decision');
  if (decision !== undefined && decision !== 'ID' && decision !== 'OOD')
    throw new InvalidInputError('decision must be ID or OOD.', { field: 'decision' });
  return {
    taxonomyId: text('taxonomyId') ?? null,
    version: number('version', true),
    decision: decision ?? null,
    minScore: number('minScore'),
    maxScore: number('maxScore'),
    from: time('from'),
    to: time('to'),
    caller: text('caller') ?? null,
    model: text('model') ?? null,
  };
}

export const recordsExportRoute = (format: 'jsonl' | 'csv'): StreamedRoute => ({
  operation: 'Query.scoringRecords',
  contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
  filename: `neglabel-scoring-records.${format}`,
  async *lines(admission, req) {
    const filter = scopedFilter(admission, filterOf(req.query));
    const after = typeof req.query.after === 'string' && req.query.after !== '' ? req.query.after : null;
    const records = admission.services.history.exportRecords(filter, after);
    // the header goes out only once the filter is known good (the first page is read)
    const first = await records.next();
    if (format === 'csv') yield `${COLUMNS.join(',')}\r\n`;
    for (let next = first; !next.done; next = await records.next()) {
      const fields = auditorFields(next.value.cursor, next.value.record);
      yield format === 'csv' ? `${Object.values(fields).map(csvCell).join(',')}\r\n` : `${JSON.stringify(fields)}\n`;
    }
  },
});
