/**
 * Requests refused before anything runs, with a stable code instead of an internal error:
 * a NUL character in any string of the operation (PostgreSQL text cannot hold one, so it failed
 * deep in a query) and subscription operations (this schema has none over HTTP).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, GraphQLError, Kind, visit, type DocumentNode } from 'graphql';

function refusal(message: string, code: string, details: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...details, http: { status: 400 } } });
}

/** The path of the first string holding a NUL in a variables value, or null. */
function nulPath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, inner] of Object.entries(value)) {
      const found = nulPath(inner, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

function documentHasNul(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.STRING](node) {
      if (!node.value.includes('\u0000')) return;
      found = true;
      return BREAK;
    },
  });
  return found;
}

const NUL_HINT = 'text cannot hold the NUL character (\\u0000): remove it and send the request again.';

export function requestHygiene<Context extends object>(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request, document }) {
          if (operation?.operation === 'subscription') {
            throw refusal(
              'Subscriptions are served over WebSocket on this path (the graphql-ws protocol), not over HTTP POST.',
              'OPERATION_NOT_SUPPORTED',
            );
          }
          const variable = nulPath(request.variables ?? {}, 'variables');
          if (variable) throw refusal(`${variable}: ${NUL_HINT}`, 'INVALID_PARAMETER', { field: variable });
          if (documentHasNul(document)) throw refusal(`A string in the query: ${NUL_HINT}`, 'INVALID_PARAMETER');
        },
      };
    },
  };
}
