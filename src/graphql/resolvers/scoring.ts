/** Resolvers for scoring, calibration and evaluation. Thin: they call the scoring service. */
import { cacheScope, callerName, type GraphQLContext } from '../context.ts';
import { requireTaxonomyInScope } from '../scope.ts';
import type { Resolvers } from '../../generated/graphql.ts';

/** Who scores: the name the history records and the key it authenticated with. */
const scoringCaller = (ctx: GraphQLContext) => ({ name: callerName(ctx), keyId: ctx.auth?.keyId ?? null });

export const scoringResolvers: Resolvers = {
  ImageScoreOutcome: {
    __resolveType: (outcome) => ('code' in outcome ? 'ImageScoreFailure' : 'ImageScore'),
  },
  Query: {
    adaptiveMemory: (_: unknown, { taxonomyId, version }, ctx) => {
      requireTaxonomyInScope(ctx, taxonomyId);
      return ctx.services.scoring.memory(taxonomyId, version);
    },
  },
  Mutation: {
    scoreImages: (_: unknown, { input }, ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.score(input, scoringCaller(ctx));
    },
    scoreImageBatch: (_: unknown, { input }, ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.scoreEach(input, scoringCaller(ctx));
    },
    calibrateThreshold: (_: unknown, { input }, ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.calibrate(input, cacheScope(ctx));
    },
    evaluate: (_: unknown, { input }, ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.evaluate(input, cacheScope(ctx));
    },
    freezeAdaptiveMemory: (_: unknown, { taxonomyId, snapshotId }, { services }) =>
      services.scoring.freezeMemory(taxonomyId, snapshotId ?? null),
    unfreezeAdaptiveMemory: (_: unknown, { taxonomyId }, { services }) => services.scoring.unfreezeMemory(taxonomyId),
  },
};
