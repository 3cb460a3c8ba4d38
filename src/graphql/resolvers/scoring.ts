/** Resolvers for scoring, calibration and evaluation. Thin: they call the scoring service. */
import { callerName, type GraphQLContext } from '../context.ts';
import { requireTaxonomyInScope } from '../scope.ts';

type Ctx = GraphQLContext;
type Args = Record<string, any>;

export const scoringResolvers = {
  Mutation: {
    scoreImages: (_: unknown, { input }: Args, ctx: Ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.score(input, callerName(ctx));
    },
    calibrateThreshold: (_: unknown, { input }: Args, ctx: Ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.calibrate(input);
    },
    evaluate: (_: unknown, { input }: Args, ctx: Ctx) => {
      requireTaxonomyInScope(ctx, input.taxonomyId);
      return ctx.services.scoring.evaluate(input);
    },
  },
};
