/**
 * The one place where errors become GraphQL errors. Domain errors keep their stable code and
 * message; GraphQL's own validation errors keep theirs; anything else is an internal error whose
 * message is logged, not shown.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** The stable code of an error raised while executing an operation (what the client will see). */
export function errorCode(error: unknown): string {
  const original = unwrapResolverError(error);
  if (original instanceof DomainError) return original.code;
  let cause: unknown = error;
  while (cause instanceof GraphQLError) {
    const code = cause.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return code;
    cause = cause.originalError;
  }
  return 'INTERNAL_SERVER_ERROR';
}

export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      return { ...formatted, message: original.message, extensions: { code: original.code, ...(original.details ?? {}) } };
    }
    // Apollo re-labels every validation error GRAPHQL_VALIDATION_FAILED; keep our own limit codes.
    let cause: unknown = error;
    while (cause instanceof GraphQLError) {
      if (cause.extensions?.code === 'QUERY_TOO_COMPLEX') return { message: cause.message, locations: formatted.locations, extensions: { code: 'QUERY_TOO_COMPLEX' } };
      cause = cause.originalError;
    }
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') return { ...formatted, extensions: { ...formatted.extensions, stacktrace: undefined } };
    logger.error({ err: original }, 'unexpected error in a GraphQL operation');
    return {
      message: 'Internal server error: the service logged the details; retry, and report it if it persists.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
