/** The embedded database's own thread (all-in-one mode): opens PGlite here and serves its socket. */
import { parentPort } from 'node:worker_threads';
import {
  serveInThisThread,
  type DatabaseThreadReply,
  type DatabaseThreadRequest,
  type EmbeddedPostgres,
} from './embedded-postgres.ts';
import { lowerThisThreadPriority } from '../lib/thread-priority.ts';

const port = parentPort!;
const send = (reply: DatabaseThreadReply) => port.postMessage(reply);
let database: EmbeddedPostgres | undefined;

port.on('message', async (request: DatabaseThreadRequest) => {
  try {
    if (request.type === 'start') {
      lowerThisThreadPriority(request.options.threadNice ?? 0);
      database = await serveInThisThread(request.dataDir, request.options, (message, error) =>
        send({ type: 'log', message, error: error ? String((error as Error).message ?? error) : null }),
      );
      send({ type: 'started' });
    } else {
      await database?.stop();
      send({ type: 'stopped' });
    }
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
  }
});
