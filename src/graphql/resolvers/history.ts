/** Resolvers for the scoring history: records, statistics and similarity search. */
import { inScope } from '../../services/access-service.ts';
import { cacheScope } from '../context.ts';
import { scopedFilter } from '../scope.ts';
import type { Resolvers } from '../../generated/graphql.ts';

export const historyResolvers: Resolvers = {
  Query: {
    scoringRecords: (_: unknown, { filter, first, after }, ctx) =>
      ctx.services.history.page(scopedFilter(ctx, filter), first, after ?? null),
    scoringRecord: async (_: unknown, { id }, ctx) => {
      const record = await ctx.services.history.record(id);
      return record && inScope(ctx.auth, record.taxonomyId) ? record : null;
    },
    scoringStats: (_: unknown, { filter, interval, histogramBins }, ctx) =>
      ctx.services.history.stats(scopedFilter(ctx, filter), interval, histogramBins),
    similarScoringRecords: (_: unknown, args, ctx) =>
      ctx.services.scoring.similar(
        {
          image: args.image,
          text: args.text,
          model: args.model,
          taxonomyId: scopedFilter(ctx, { taxonomyId: args.taxonomyId })?.taxonomyId,
          first: args.first,
        },
        cacheScope(ctx),
      ),
  },
  ScoringRecord: {
    model: (r) => r.modelId,
    isOOD: (r) => r.isOod,
    requestedThreshold: (r) => r.requested?.threshold ?? null,
    requestedThresholdSpace: (r) => r.requested?.thresholdSpace ?? null,
    requestedIsOOD: (r) => r.requested?.isOod ?? null,
    url: (r) => r.sourceUrl,
    adaptiveScore: (r) => r.adaptive?.adaptiveScore ?? null,
    memorySnapshotId: (r) => r.adaptive?.memorySnapshotId ?? null,
    memorySize: (r) => r.adaptive?.memorySize ?? null,
  },
};
