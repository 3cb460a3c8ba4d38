/**
 * The one place where errors become GraphQL errors. Domain errors keep their stable code and
 * message; GraphQL's own validation errors keep theirs; anything else is an internal error whose
 * message is logged, not shown.
 */
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError } from '../errors.ts';
import type { Logger } from '../logger.ts';

export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      return { ...formatted, message: original.message, extensions: { code: original.code, ...(original.details ?? {}) } };
    }
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    logger.error({ err: original }, 'unexpected error in a GraphQL operation');
    return {
      message: 'Internal server error: the service logged the details; retry, and report it if it persists.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
