/**
 * GET /v1/history/log: the history log as JSON Lines (src/transparency/verify.ts documents the
 * lines), streamed a page at a time with the socket's backpressure, so memory stays flat whatever
 * the history's size. `?from=<position>` resumes a broken download with the leaves from there on
 * (append them to what arrived). The log holds every taxonomy's records and the audit log, so it
 * takes what the audit log takes (an admin or auditor key) and a key without a taxonomy scope.
 */
import { once } from 'node:events';
import type express from 'express';
import { DomainError, InvalidInputError } from '../errors.ts';
import { admit, type Admission } from '../graphql/access.ts';
import type { Caller } from '../services/access-service.ts';
import type { InFlightLimiter } from '../services/in-flight-limiter.ts';
import type { Services } from '../services/index.ts';
import { type RouteOutcome, sendError } from './openai-embeddings.ts';

function fromPosition(value: unknown): number {
  if (value === undefined) return 0;
  const from = Number(value);
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(from))
    throw new InvalidInputError('from must be a log position (a whole number from 0).', { field: 'from' });
  return from;
}

export function historyExportHandler(
  services: Services,
  inFlight: InFlightLimiter,
  onUnexpected: (error: unknown) => void,
  onAnswer: RouteOutcome,
) {
  return async (req: express.Request, res: express.Response) => {
    const admission: Admission = {
      services,
      authorization: req.headers.authorization,
      auth: res.locals.caller as Caller | undefined,
      requestId: req.headers['x-request-id'] as string,
      inFlight,
    };
    try {
      (await admit(admission, 'Query.auditLog'))();
      if (admission.auth!.taxonomyIds)
        throw new DomainError(
          'FORBIDDEN',
          "The history log holds every taxonomy's records: exporting it takes a key without a taxonomy scope.",
        );
      const lines = services.historyLog.exportLines(fromPosition(req.query.from));
      const first = await lines.next();
      res.status(200).type('application/x-ndjson');
      res.setHeader('content-disposition', 'attachment; filename="neglabel-history-log.jsonl"');
      for (let line = first; !line.done; line = await lines.next()) {
        if (res.destroyed) return void (await lines.return(undefined));
        if (!res.write(`${JSON.stringify(line.value)}\n`)) await once(res, 'drain');
      }
      res.end();
      onAnswer(null, admission.auth?.name);
    } catch (error) {
      if (res.headersSent) {
        // mid-stream: the client sees a cut body (resume with ?from=), never a half-line taken as whole
        onUnexpected(error);
        res.destroy(error as Error);
        return;
      }
      onAnswer(sendError(req, res, error, onUnexpected), admission.auth?.name);
    }
  };
}
