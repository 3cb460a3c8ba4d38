/** Resolvers for API keys, the audit log and the caller's identity. */
import { callerName, type GraphQLContext } from '../context.ts';
import type { Resolvers } from '../../generated/graphql.ts';
import { graphqlRole } from '../access.ts';

export const accessResolvers: Resolvers = {
  Query: {
    me: (_: unknown, __, ctx) => ({
      name: callerName(ctx),
      role: graphqlRole(ctx.auth!.role),
      keyId: ctx.auth!.keyId,
      openMode: ctx.services.access.isOpen,
    }),
    apiKeys: (_: unknown, __, { services }: GraphQLContext) => services.access.listKeys(),
    auditLog: (_: unknown, { first, after }, { services, auth }: GraphQLContext) =>
      services.access.auditPage(first, after ?? null, auth),
  },
  Mutation: {
    createApiKey: (_: unknown, { input }, ctx) =>
      ctx.services.access.createKey(input, ctx.auth!, async (id) => (await ctx.services.taxonomies.get(id)) !== null),
    revokeApiKey: (_: unknown, { id }, ctx) => ctx.services.access.revokeKey(id, ctx.auth!),
  },
  AuditLogEntry: {
    details: (e) => JSON.stringify(e.details),
  },
  ApiKey: {
    role: (k) => graphqlRole(k.role),
    revoked: (k) => k.revokedAt !== null,
  },
};
