/** Resolvers for service state and raw embeddings. */
import { cacheScope, type GraphQLContext } from '../context.ts';
import type { QueryEmbedImagesArgs, QueryEmbedTextsArgs, Resolvers } from '../../generated/graphql.ts';

const embedTexts = async (_: unknown, args: QueryEmbedTextsArgs, { services }: GraphQLContext) =>
  (await services.embeddings.embedTexts(args.model, args.texts)).vectors.map((e) => Array.from(e));
const embedImages = async (_: unknown, args: QueryEmbedImagesArgs, ctx: GraphQLContext) =>
  (await ctx.services.embeddings.embedImageInputs(args.model, args.images, cacheScope(ctx))).embeddings.map((e) =>
    Array.from(e),
  );

export const systemResolvers: Resolvers = {
  Query: {
    health: (_: unknown, __: unknown, { services }: GraphQLContext) => services.health.report(),
    models: (_: unknown, __: unknown, { services }: GraphQLContext) => services.encoder.models(),
    embedTexts,
    embedImages,
  },
  // deprecated aliases of the queries, for one release
  Mutation: { embedTexts, embedImages },
};
