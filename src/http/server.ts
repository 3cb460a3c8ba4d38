/**
 * The web app: /graphql (Apollo Server on Express 5), /healthz (process up), /readyz (database and
 * default model ready). The body limit applies before GraphQL parses anything.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import graphqlUploadExpress from 'graphql-upload/graphqlUploadExpress.mjs';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { consoleRouter } from './console.ts';
import { historyLogRoute, recordsExportRoute } from './history-export.ts';
import { type StreamedRoute, streamedRoute } from './streaming.ts';
import { serveSubscriptions } from './subscriptions.ts';
import type { Config } from '../config.ts';
import { requestScope, type Logger } from '../logger.ts';
import type { Services } from '../services/index.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { createErrorFormatter } from '../graphql/errors.ts';
import { queryLimitsRule } from '../graphql/limits.ts';
import { requestHygiene } from '../graphql/request-hygiene.ts';
import { HEAVY, mayUploadImages } from '../graphql/access.ts';
import { InFlightLimiter } from '../services/in-flight-limiter.ts';
import { type ErrorBody, graphqlErrorBody, rateLimit } from './rate-limit.ts';
import {
  openAiEmbeddingsHandler,
  openAiErrorBody,
  openAiModelsHandler,
  openAiUnknownRoute,
} from './openai-embeddings.ts';
import type { Caller } from '../services/access-service.ts';
import { resolvers, typeDefs } from '../graphql/schema.ts';
import type { createMetrics } from './metrics.ts';

type Metrics = ReturnType<typeof createMetrics>;

export interface HttpServer {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

/**
 * Replaces a response over `maxBytes` of JSON with a coded error: per-field limits alone let a
 * small request (aliases, large lists) produce hundreds of megabytes.
 */
function responseSizeCap(maxBytes: number): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const bytes = Buffer.byteLength(JSON.stringify(response.body.singleResult));
          if (bytes <= maxBytes) return;
          response.body.singleResult = {
            errors: [
              {
                message:
                  `The response would be ${bytes} bytes, over the limit of ${maxBytes}: ask for fewer items ` +
                  `or fields per request.`,
                extensions: { code: 'RESPONSE_TOO_LARGE', bytes, maxBytes },
              },
            ],
          };
        },
      };
    },
  };
}

/** Room in a multipart body for its operations and map fields, beside the files' bytes. */
const MULTIPART_FIELDS_BYTES = 1024 * 1024;

const bodyTooLarge = (maxBytes: number) =>
  `The request body is over ${maxBytes} bytes: send fewer or smaller images per request.`;

/**
 * Multipart bodies carry files. Nothing of one is read (or spooled to disk) before its caller is
 * known and may score, and before it proves it is no cross-site form post (Apollo's preflight
 * header, which a form cannot send); a body without a declared length (declaredLengthGuard) is
 * bounded as it arrives (then the connection is cut at the limit).
 */
function uploadGate(maxBytes: number, errorBody: ErrorBody): express.RequestHandler {
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) return next();
    const refuse = (status: number, message: string, code: string) =>
      refuseUnread(req, res, status, errorBody(req, message, code));
    const caller = res.locals.caller as Caller | undefined;
    if (!caller)
      return refuse(
        401,
        'Uploads need a valid API key (Authorization: Bearer <key>) with the SCORER or ADMIN role.',
        'UNAUTHENTICATED',
      );
    if (!mayUploadImages(caller.role))
      return refuse(403, `A ${caller.role.toUpperCase()} key cannot upload images to score.`, 'FORBIDDEN');
    if (!req.headers['apollo-require-preflight'] && !req.headers['x-apollo-operation-name'])
      return refuse(
        400,
        'This upload was blocked as a potential cross-site request (CSRF): send the header ' +
          'apollo-require-preflight: true with multipart requests.',
        'BAD_REQUEST',
      );
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= maxBytes || res.headersSent) return;
      req.unpipe();
      refuse(413, bodyTooLarge(maxBytes), 'PAYLOAD_TOO_LARGE');
    });
    next();
  };
}

/**
 * Refuses a body whose declared length is over its limit (`maxBytesOf` the request) before reading
 * any of it (the JSON parser would read it to its end before answering) and closes the connection.
 */
function declaredLengthGuard(
  maxBytesOf: (req: express.Request) => number,
  errorBody: ErrorBody,
): express.RequestHandler {
  return (req, res, next) => {
    const maxBytes = maxBytesOf(req);
    if (!(Number(req.headers['content-length']) > maxBytes)) return next();
    refuseUnread(req, res, 413, errorBody(req, bodyTooLarge(maxBytes), 'PAYLOAD_TOO_LARGE'));
  };
}

/** How long, and how many bytes, a refused body is still read after the answer (a lingering close). */
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

/**
 * Answers a request whose body is not wanted, without reading that body to its end: the answer
 * says `connection: close`, then what the client still sends is discarded for a moment (closing a
 * socket with unread data resets it, and a reset can destroy the answer before the client reads
 * it), and the connection is cut. Written directly: once the upload middleware has run, res.send
 * waits for the body's end.
 */
function refuseUnread(req: express.Request, res: express.Response, status: number, body: unknown): void {
  if (res.headersSent) return;
  req.pause();
  // Node destroys a `connection: close` socket once its answer is written, unread data or not;
  // here only its sending side ends, so what the client still sends is read until the cut below
  const socket = req.socket;
  socket.destroySoon = () => socket.end();
  res.once('finish', () => {
    let discarded = 0;
    const cut = () => socket.destroy();
    const timer = setTimeout(cut, LINGER_MS);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) cut();
    });
    req.once('end', () => clearTimeout(timer));
    req.resume();
  });
  res
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' })
    .end(JSON.stringify(body));
}

/**
 * Refuses a port another process holds, before anything else starts (a database, workers), with
 * what to do about it.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} on ${host} is already in use (another neglabel, or another program): stop it, or set ` +
                `PORT to a free port`,
            )
          : error.code === 'EACCES'
            ? new Error(`port ${port} on ${host} needs privileges this user lacks: set PORT to 1024 or above`)
            : error,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export async function startHttpServer(
  config: Config,
  services: Services,
  logger: Logger,
  metrics: Metrics,
): Promise<HttpServer> {
  const app = express();
  app.disable('x-powered-by');
  const server = http.createServer(app);
  // longer than a load balancer's idle timeout (60 s on common ones): the balancer, not this
  // server, closes an idle keep-alive connection, so a reused connection is never reset under it
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = config.headersTimeoutMs;
  // a slow sender cannot hold a connection (and its buffers) for ever, nor can many of them
  server.requestTimeout = Math.max(config.bodyTimeoutMs, config.headersTimeoutMs);
  server.maxConnections = config.maxConnections;
  const formatError = createErrorFormatter(logger, () => services.storage.noteDiskFull());
  const limits = queryLimitsRule({
    maxDepth: config.maxQueryDepth,
    maxAliases: config.maxQueryAliases,
    maxFields: config.maxQueryFields,
    heavyFields: HEAVY,
  });
  const apollo = new ApolloServer<GraphQLContext>({
    typeDefs,
    resolvers,
    formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      // browsers get the IDE this service serves (console.ts), not Apollo's page from a CDN
      ApolloServerPluginLandingPageDisabled(),
      metrics.plugin(logger),
      responseSizeCap(config.maxResponseBytes),
      requestHygiene(),
    ],
    // no automatic persisted queries: a cache any caller can fill, and nothing here sends them
    persistedQueries: false,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // main.ts owns shutdown; Apollo's own signal handlers would race it and re-raise the signal
    stopOnTerminationSignals: false,
    validationRules: [limits],
  });
  await apollo.start();

  // refusals in the format of the route that refuses
  const errorBody: ErrorBody = (req, message, code) =>
    req.originalUrl.startsWith('/v1/') ? openAiErrorBody(req, message, code) : graphqlErrorBody(req, message, code);
  app.use((req, res, next) => {
    const arrivedAt = performance.now();
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    // the request's deadline: its own x-request-timeout-ms, else the server's default (0: none)
    const header = req.headers['x-request-timeout-ms'] as string | undefined;
    const timeoutMs = header === undefined ? config.requestTimeoutMs : Number(header);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 86_400_000) {
      res
        .status(400)
        .json(
          errorBody(
            req,
            'x-request-timeout-ms must be an integer number of milliseconds from 1 to 86400000 (0: none); got ' +
              `${JSON.stringify(header)}.`,
            'INVALID_PARAMETER',
          ),
        );
      return;
    }
    requestScope.run({ requestId, deadline: timeoutMs > 0 ? Date.now() + timeoutMs : undefined, arrivedAt }, next);
  });
  // Open mode trusts loopback callers. A browser page on another site can reach 127.0.0.1 through a
  // DNS name it controls (DNS rebinding): its requests carry that name as Host, so refuse them.
  app.use((req, res, next) => {
    if (!services.access.isOpen) return next();
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (host === 'localhost' || host === '127.0.0.1' || host === '[::1]') return next();
    res.status(403).json({
      errors: [
        {
          message:
            'In open mode (no API key yet) only Host localhost, 127.0.0.1 or [::1] is served: set ' +
            'NEGLABEL_ADMIN_KEY to use other names.',
          extensions: { code: 'FORBIDDEN_HOST' },
        },
      ],
    });
  });
  // operators' data: an admin or auditor key (Prometheus sends it as a bearer token), or open mode
  app.get('/metrics', async (req, res) => {
    try {
      const caller = await services.access.authenticate(req.headers.authorization);
      if (caller.role === 'scorer') {
        res.status(403).json({
          errors: [{ message: '/metrics needs an ADMIN or AUDITOR key.', extensions: { code: 'FORBIDDEN' } }],
        });
        return;
      }
    } catch (error) {
      res
        .status(401)
        .json({ errors: [{ message: (error as Error).message, extensions: { code: 'UNAUTHENTICATED' } }] });
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // the console at / and the GraphQL IDE for browsers at GET /graphql, with their scripts
  app.use(consoleRouter());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const report = await services.health.report();
    const defaultModel = report.models.find((m) => m.isDefault);
    const { reachable, pendingMigrations, storageOk } = report.database;
    const ready = reachable && pendingMigrations.length === 0 && storageOk && Boolean(defaultModel?.loaded);
    res.status(ready ? 200 : 503).json({
      ready,
      database: reachable,
      storage: storageOk,
      defaultModel: defaultModel?.id ?? null,
      hint: report.hint,
    });
  });
  // who is calling, decided once per request: the rate limit keys on it and resolvers reuse it
  const identify = async (req: express.Request, res: express.Response): Promise<string> => {
    try {
      const caller: Caller = await services.access.authenticate(req.headers.authorization);
      res.locals.caller = caller;
      if (caller.keyId) return `key:${caller.keyId}`;
    } catch {
      // unauthenticated: refused later by the resolvers; limited here by address
    }
    return `address:${req.socket.remoteAddress}`;
  };
  const inFlight = new InFlightLimiter(config.maxInFlightPerKey);
  const subscriptions = serveSubscriptions(server, services, inFlight, limits, formatError);
  // one budget per key, whichever route it calls
  const limit = rateLimit(config.rateLimitPerMinute, identify, errorBody);
  const maxMultipartBytes = config.maxBodyBytes + MULTIPART_FIELDS_BYTES;
  const lengthGuard = declaredLengthGuard(
    (req) => (req.is('multipart/form-data') ? maxMultipartBytes : config.maxBodyBytes),
    errorBody,
  );
  app.post(
    '/v1/embeddings',
    limit,
    lengthGuard,
    express.json({ limit: config.maxBodyBytes }),
    openAiEmbeddingsHandler(
      services,
      inFlight,
      (error) => logger.error({ err: error }, 'unexpected error in /v1/embeddings'),
      (code, caller) =>
        metrics.observe(logger, 'POST /v1/embeddings', code ? [code] : [], caller, 'embeddings request'),
    ),
  );
  app.get(['/v1/models', '/v1/models/:id'], openAiModelsHandler(services));
  const streamed = (route: string, handler: StreamedRoute) =>
    app.get(
      route,
      limit,
      streamedRoute(
        services,
        inFlight,
        handler,
        (error) => logger.error({ err: error }, `unexpected error in GET ${route}`),
        (code, caller) => metrics.observe(logger, `GET ${route}`, code ? [code] : [], caller, 'export'),
      ),
    );
  streamed('/v1/history/log', historyLogRoute);
  streamed('/v1/history/records', recordsExportRoute('jsonl'));
  streamed('/v1/history/records.csv', recordsExportRoute('csv'));
  app.use('/v1', openAiUnknownRoute);
  app.use(
    '/graphql',
    limit,
    // who may upload is answered before how much: an anonymous caller learns no limits
    uploadGate(maxMultipartBytes, errorBody),
    lengthGuard,
    // multipart requests (uploads) only, past the gate: files stream to temporary storage, each
    // stopped at its limit, the whole body at the gate's
    graphqlUploadExpress({
      maxFileSize: config.maxUploadBytes,
      maxFiles: 2 * config.maxImagesPerRequest,
      maxFieldSize: config.maxBodyBytes,
    }),
    express.json({ limit: config.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = req.headers['x-request-id'] as string;
        return {
          services,
          authorization: req.headers.authorization,
          auth: res.locals.caller as Caller | undefined,
          requestId,
          inFlight,
        };
      },
    }),
  );
  app.use(
    (
      error: Error & { status?: number; type?: string },
      req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      // answered already (a body refused as it streamed, then the operation ending late): the
      // refusal stands, and its connection is left to its lingering close, not cut here
      if (res.headersSent) return;
      const status = error.status ?? 500;
      const code =
        error.type === 'entity.too.large'
          ? 'PAYLOAD_TOO_LARGE'
          : status < 500
            ? 'BAD_REQUEST'
            : 'INTERNAL_SERVER_ERROR';
      const message =
        code === 'PAYLOAD_TOO_LARGE'
          ? bodyTooLarge(config.maxBodyBytes)
          : status < 500
            ? `The request could not be read: ${error.message}`
            : 'Internal server error';
      if (status >= 500) logger.error({ err: error }, 'http error');
      res.status(status).json(errorBody(req, message, code));
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address() as { port: number };
  const url = `http://${config.host}:${address.port}`;
  return {
    server,
    url,
    async close() {
      // subscribers are told the server is going (graphql-ws closes their sockets), then requests drain
      await subscriptions.close();
      await apollo.stop();
    },
  };
}
