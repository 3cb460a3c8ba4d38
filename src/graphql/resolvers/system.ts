/** Resolvers for service state and raw embeddings. */
import type { ImageInput } from '../../services/images.ts';
import type { GraphQLContext } from '../context.ts';
import type { Resolvers } from '../../generated/graphql.ts';

export const systemResolvers: Resolvers = {
  Query: {
    health: (_: unknown, __: unknown, { services }: GraphQLContext) => services.health.report(),
    models: (_: unknown, __: unknown, { services }: GraphQLContext) => services.encoder.models(),
  },
  Mutation: {
    embedTexts: async (_: unknown, args, { services }: GraphQLContext) =>
      (await services.embeddings.embedTexts(args.model, args.texts)).map((e) => Array.from(e)),
    embedImages: async (_: unknown, args, { services }: GraphQLContext) =>
      (await services.embeddings.embedImageInputs(args.model, args.images)).embeddings.map((e) => Array.from(e)),
  },
};
