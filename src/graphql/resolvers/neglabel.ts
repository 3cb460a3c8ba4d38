/** Resolvers for taxonomies, mining, scoring and the history. Thin: they call services. */
import { inScope } from '../../services/access-service.ts';
import { callerName, type GraphQLContext } from '../context.ts';
import { ifVersionInScope, requireTaxonomyInScope, scopedFilter } from '../scope.ts';

type Ctx = GraphQLContext;
type Args = Record<string, any>;
const toEnum = (value: string) => (value === 'noun' ? 'NOUN' : 'ADJECTIVE');

export const neglabelResolvers = {
  Query: {
    taxonomies: (_: unknown, { first, after }: Args, ctx: Ctx) =>
      ctx.services.taxonomies.page(first, after ?? null, ctx.auth?.taxonomyIds ?? null),
    taxonomy: async (_: unknown, { id }: Args, ctx: Ctx) => {
      const taxonomy = await ctx.services.taxonomies.get(id);
      return taxonomy && inScope(ctx.auth, taxonomy.id) ? taxonomy : null;
    },
    negativeLabelSet: async (_: unknown, { id }: Args, ctx: Ctx) =>
      ifVersionInScope(ctx, await ctx.services.mining.negativeSet(id)),
    miningJob: async (_: unknown, { id }: Args, ctx: Ctx) => ifVersionInScope(ctx, await ctx.services.mining.job(id)),
    scoringRecords: (_: unknown, { filter, first, after }: Args, ctx: Ctx) =>
      ctx.services.history.page(scopedFilter(ctx, filter), first, after ?? null),
    scoringRecord: async (_: unknown, { id }: Args, ctx: Ctx) => {
      const record = await ctx.services.history.record(id);
      return record && inScope(ctx.auth, record.taxonomyId) ? record : null;
    },
    scoringStats: (_: unknown, { filter, interval, histogramBins }: Args, ctx: Ctx) =>
      ctx.services.history.stats(scopedFilter(ctx, filter), interval, histogramBins),
    similarScoringRecords: (_: unknown, args: Args, ctx: Ctx) =>
      ctx.services.scoring.similar({
        image: args.image,
        text: args.text,
        model: args.model,
        taxonomyId: scopedFilter(ctx, { taxonomyId: args.taxonomyId })?.taxonomyId,
        first: args.first,
      }),
  },
  Mutation: {
    createTaxonomy: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.taxonomies.create(input, callerName(ctx)),
    createTaxonomyVersion: (_: unknown, { input }: Args, ctx: Ctx) =>
      ctx.services.taxonomies.createVersion(input, callerName(ctx)),
    startMining: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.mining.start(input, callerName(ctx)),
    cancelMiningJob: (_: unknown, { id }: Args, { services }: Ctx) => services.mining.cancel(id),
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
  Taxonomy: {
    latestVersion: (t: { id: string }, _: Args, { services }: Ctx) => services.taxonomies.latestVersion(t.id),
    versions: (t: { id: string }, _: Args, { services }: Ctx) => services.taxonomies.versions(t.id),
  },
  TaxonomyVersion: {
    labelCount: (v: { labels: string[] }) => v.labels.length,
    model: (v: { modelId: string }) => v.modelId,
    activeNegativeSet: (v: { activeNegativeSetId: string | null }, _: Args, { services }: Ctx) =>
      v.activeNegativeSetId ? services.mining.negativeSet(v.activeNegativeSetId) : null,
    miningJobs: (v: { id: string }, _: Args, { services }: Ctx) => services.mining.jobsForVersion(v.id),
  },
  MiningJob: {
    progress: (j: { done: number; total: number }) => (j.total > 0 ? Math.min(1, j.done / j.total) : 0),
    reused: (j: { status: string; startedAt: Date | null; negativeSetId: string | null }) =>
      j.status === 'SUCCEEDED' && j.startedAt === null,
    taxonomyVersion: (j: { taxonomyVersionId: string }, _: Args, { services }: Ctx) =>
      services.taxonomies.versionById(j.taxonomyVersionId),
    negativeSet: (j: { negativeSetId: string | null }, _: Args, { services }: Ctx) =>
      j.negativeSetId ? services.mining.negativeSet(j.negativeSetId) : null,
  },
  NegativeLabelSet: {
    model: (s: { modelId: string }) => s.modelId,
    active: async (s: { id: string; taxonomyVersionId: string }, _: Args, { services }: Ctx) =>
      (await services.taxonomies.versionById(s.taxonomyVersionId))?.activeNegativeSetId === s.id,
    taxonomyVersion: (s: { taxonomyVersionId: string }, _: Args, { services }: Ctx) =>
      services.taxonomies.versionById(s.taxonomyVersionId),
    labels: (s: { id: string }, { first, after, group }: Args, { services }: Ctx) =>
      services.mining.labels(s.id, first, after ?? null, group ?? null),
  },
  NegativeLabel: {
    partOfSpeech: (l: { partOfSpeech: string }) => toEnum(l.partOfSpeech),
    group: (l: { groupIndex: number }) => l.groupIndex,
  },
  ScoringRecord: {
    model: (r: { modelId: string }) => r.modelId,
    isOOD: (r: { isOod: boolean }) => r.isOod,
    requestedThreshold: (r: { requested: { threshold: number } | null }) => r.requested?.threshold ?? null,
    requestedThresholdSpace: (r: { requested: { thresholdSpace: string } | null }) =>
      r.requested?.thresholdSpace ?? null,
    requestedIsOOD: (r: { requested: { isOod: boolean } | null }) => r.requested?.isOod ?? null,
  },
};
