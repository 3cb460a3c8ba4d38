/**
 * Routes that stream a long answer (the history log, a records export): admitted as the GraphQL
 * field they mirror, then written a line at a time with the socket's backpressure, so memory stays
 * flat whatever the size. Errors before the first byte are JSON answers in the /v1 shape; after it,
 * the connection is cut (the client resumes with the cursor of the last whole line it has).
 */
import { once } from 'node:events';
import type express from 'express';
import { admit, type Admission, type RootField } from '../graphql/access.ts';
import type { Caller } from '../services/access-service.ts';
import type { InFlightLimiter } from '../services/in-flight-limiter.ts';
import type { Services } from '../services/index.ts';
import { type RouteOutcome, routeAdmission, sendError } from './openai-embeddings.ts';

export interface StreamedRoute {
  /** the GraphQL field whose roles the route takes */
  operation: RootField;
  contentType: string;
  filename: string;
  /** the lines to send (each ends with its newline), after admission; throws to refuse */
  lines(admission: Admission & { auth: Caller }, req: express.Request): AsyncGenerator<string>;
}

export function streamedRoute(
  services: Services,
  inFlight: InFlightLimiter,
  route: StreamedRoute,
  onUnexpected: (error: unknown) => void,
  onAnswer: RouteOutcome,
) {
  return async (req: express.Request, res: express.Response) => {
    const admission = routeAdmission(req, res, services, inFlight);
    try {
      (await admit(admission, route.operation))();
      const lines = route.lines(admission as Admission & { auth: Caller }, req);
      // the first line is read before the status is sent, so a refusal is still an error answer
      const first = await lines.next();
      res.status(200).type(route.contentType);
      res.setHeader('content-disposition', `attachment; filename="${route.filename}"`);
      for (let line = first; !line.done; line = await lines.next()) {
        if (res.destroyed) return void (await lines.return(undefined));
        if (!res.write(line.value)) await once(res, 'drain');
      }
      res.end();
      onAnswer(null, admission.auth?.name);
    } catch (error) {
      if (res.headersSent) {
        onUnexpected(error);
        res.destroy(error as Error);
        return;
      }
      onAnswer(sendError(req, res, error, onUnexpected), admission.auth?.name);
    }
  };
}
