/** Resolvers for API keys, the audit log and the caller's identity. */
import { callerName, type GraphQLContext } from '../context.ts';

type Args = Record<string, any>;

export const accessResolvers = {
  Query: {
    me: (_: unknown, __: Args, ctx: GraphQLContext) => ({
      name: callerName(ctx),
      role: ctx.auth!.role.toUpperCase(),
      keyId: ctx.auth!.keyId,
      openMode: ctx.services.access.isOpen,
    }),
    apiKeys: (_: unknown, __: Args, { services }: GraphQLContext) => services.access.listKeys(),
    auditLog: (_: unknown, { first, after }: Args, { services }: GraphQLContext) =>
      services.access.auditPage(first, after ?? null),
  },
  Mutation: {
    createApiKey: (_: unknown, { input }: Args, ctx: GraphQLContext) =>
      ctx.services.access.createKey(input, ctx.auth!, async (id) => (await ctx.services.taxonomies.get(id)) !== null),
    revokeApiKey: (_: unknown, { id }: Args, ctx: GraphQLContext) => ctx.services.access.revokeKey(id, ctx.auth!),
  },
  AuditLogEntry: {
    details: (e: { details: unknown }) => JSON.stringify(e.details),
  },
  ApiKey: {
    role: (k: { role: string }) => k.role.toUpperCase(),
    revoked: (k: { revokedAt: Date | null }) => k.revokedAt !== null,
  },
};
