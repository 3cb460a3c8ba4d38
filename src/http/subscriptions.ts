/**
 * GraphQL subscriptions over WebSocket (graphql-ws, the `graphql-transport-ws` protocol) on the
 * HTTP server's port and path /graphql. The key comes in the connection's init payload
 * (`{ authorization: "Bearer <key>" }`) and is admitted as over HTTP (graphql/access.ts), with the
 * same query-shape limits and error codes. Only subscriptions are answered: queries and mutations
 * keep to POST /graphql, where the rate limit, body limits and metrics are. A WebSocket is not
 * held to the same-origin rule, so in open mode (no key yet) an upgrade is taken only from this
 * machine's host names and from pages of the same origin, as the HTTP routes take requests.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { type ExecutionResult, GraphQLError, getOperationAST, parse, specifiedRules, validate } from 'graphql';
// graphql-ws names it useServer; it is no React hook
import { useServer as graphqlOverWebSocket } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GraphQLContext } from '../graphql/context.ts';
import type { createErrorFormatter } from '../graphql/errors.ts';
import type { queryLimitsRule } from '../graphql/limits.ts';
import { resolvers, typeDefs } from '../graphql/schema.ts';
import type { InFlightLimiter } from '../services/in-flight-limiter.ts';
import type { Services } from '../services/index.ts';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether an upgrade request may open a socket: always with keys; in open mode, from this machine's pages only. */
function acceptable(req: http.IncomingMessage, open: boolean): boolean {
  if (!open) return true;
  const host = (req.headers.host ?? '').toLowerCase();
  if (!LOOPBACK_NAMES.has(host.replace(/:\d+$/, ''))) return false;
  const origin = req.headers.origin;
  return origin === undefined || new URL(origin).host.toLowerCase() === host;
}

export function serveSubscriptions(
  server: http.Server,
  services: Services,
  inFlight: InFlightLimiter,
  limits: ReturnType<typeof queryLimitsRule>,
  format: ReturnType<typeof createErrorFormatter>,
): { close(): Promise<void> } {
  const schema = makeExecutableSchema({ typeDefs, resolvers });
  const sockets = new WebSocketServer({
    server,
    path: '/graphql',
    verifyClient: ({ req }: { req: http.IncomingMessage }) => acceptable(req, services.access.isOpen),
  });
  const formatted = (errors: readonly GraphQLError[]) => errors.map((e) => format(e.toJSON(), e));
  const disposable = graphqlOverWebSocket(
    {
      schema,
      context: (ctx): GraphQLContext => ({
        services,
        authorization:
          typeof ctx.connectionParams?.authorization === 'string' ? ctx.connectionParams.authorization : undefined,
        requestId: randomUUID(),
        inFlight,
      }),
      onSubscribe: (_ctx, _id, payload) => {
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const errors = validate(schema, document, [...specifiedRules, limits]);
        if (errors.length > 0) return errors;
        if (getOperationAST(document, payload.operationName)?.operation !== 'subscription')
          return [
            new GraphQLError(
              'Over WebSocket this service answers subscriptions only: send queries and mutations to POST /graphql.',
              { extensions: { code: 'BAD_REQUEST' } },
            ),
          ];
      },
      onError: (_ctx, _id, _payload, errors) => formatted(errors),
      onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
        result.errors ? { ...result, errors: formatted(result.errors) } : undefined,
    },
    sockets,
  );
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}
