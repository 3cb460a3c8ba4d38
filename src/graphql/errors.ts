/**
 * The one place where errors become GraphQL errors. Domain errors keep their stable code and
 * message; GraphQL's own validation errors keep theirs; anything else is an internal error whose
 * message is logged, not shown.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError, StorageFullError, unwrapDomainError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** The GraphQL errors of an error's cause chain, outermost first. */
function* causes(error: unknown): Generator<GraphQLError> {
  for (let cause = error; cause instanceof GraphQLError; cause = cause.originalError) yield cause;
}

/** Our query-limit error, which Apollo re-labels GRAPHQL_VALIDATION_FAILED on the outside. */
function limitError(error: unknown): GraphQLError | undefined {
  for (const cause of causes(error)) if (cause.extensions?.code === 'QUERY_TOO_COMPLEX') return cause;
  return undefined;
}

/** The error a resolver threw, as the domain error it stands for. */
function originalError(error: unknown): unknown {
  return unwrapDomainError(unwrapResolverError(error));
}

/** The stable code the client sees for an error (the formatter below decides it the same way). */
export function errorCode(error: unknown): string {
  const original = originalError(error);
  if (original instanceof DomainError) return original.code;
  if (limitError(error)) return 'QUERY_TOO_COMPLEX';
  for (const cause of causes(error)) {
    const code = cause.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return code;
  }
  return 'INTERNAL_SERVER_ERROR';
}

/** @param onDiskFull told when the database reported a full disk (so /readyz can say so) */
export function createErrorFormatter(logger: Logger, onDiskFull: () => void) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = originalError(error);
    if (original instanceof StorageFullError && original.reportedByDatabase) onDiskFull();
    if (original instanceof DomainError) {
      return {
        ...formatted,
        message: original.message,
        extensions: { code: original.code, ...(original.details ?? {}) },
      };
    }
    const limit = limitError(error);
    if (limit)
      return { message: limit.message, locations: formatted.locations, extensions: { code: 'QUERY_TOO_COMPLEX' } };
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR')
      return { ...formatted, extensions: { ...formatted.extensions, stacktrace: undefined } };
    logger.error({ err: original }, 'unexpected error in a GraphQL operation');
    return {
      message: 'Internal server error: the service logged the details; retry, and report it if it persists.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
