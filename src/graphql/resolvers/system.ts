/** Resolvers for service state and raw embeddings. */
import type { ImageInput } from '../../services/images.ts';
import type { GraphQLContext } from '../context.ts';

export const systemResolvers = {
  Query: {
    health: (_: unknown, __: unknown, { services }: GraphQLContext) => services.health.report(),
    models: (_: unknown, __: unknown, { services }: GraphQLContext) => services.encoder.models(),
  },
  Mutation: {
    embedTexts: async (_: unknown, args: { model?: string; texts: string[] }, { services }: GraphQLContext) =>
      (await services.embeddings.embedTexts(args.model, args.texts)).map((e) => Array.from(e)),
    embedImages: async (_: unknown, args: { model?: string; images: ImageInput[] }, { services }: GraphQLContext) =>
      (await services.embeddings.embedImageInputs(args.model, args.images)).embeddings.map((e) => Array.from(e)),
  },
};
