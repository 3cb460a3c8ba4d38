/** Resolvers for taxonomies, mining, scoring and the history. Thin: they call services. */
import { callerName, type GraphQLContext } from '../context.ts';

type Ctx = GraphQLContext;
type Args = Record<string, any>;
const toEnum = (value: string) => (value === 'noun' ? 'NOUN' : 'ADJECTIVE');

export const neglabelResolvers = {
  Query: {
    taxonomies: (_: unknown, { first, after }: Args, { services }: Ctx) => services.taxonomies.page(first, after ?? null),
    taxonomy: (_: unknown, { id }: Args, { services }: Ctx) => services.taxonomies.get(id),
    negativeLabelSet: (_: unknown, { id }: Args, { services }: Ctx) => services.mining.negativeSet(id),
    miningJob: (_: unknown, { id }: Args, { services }: Ctx) => services.mining.job(id),
    scoringRecords: (_: unknown, { filter, first, after }: Args, { services }: Ctx) => services.history.page(filter, first, after ?? null),
    scoringRecord: (_: unknown, { id }: Args, { services }: Ctx) => services.history.record(id),
    scoringStats: (_: unknown, { filter, interval, histogramBins }: Args, { services }: Ctx) => services.history.stats(filter, interval, histogramBins),
    similarScoringRecords: (_: unknown, args: Args, { services }: Ctx) =>
      services.scoring.similar({ image: args.image, text: args.text, model: args.model, taxonomyId: args.taxonomyId, first: args.first }),
  },
  Mutation: {
    createTaxonomy: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.taxonomies.create(input, callerName(ctx)),
    createTaxonomyVersion: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.taxonomies.createVersion(input, callerName(ctx)),
    startMining: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.mining.start(input, callerName(ctx)),
    cancelMiningJob: (_: unknown, { id }: Args, { services }: Ctx) => services.mining.cancel(id),
    scoreImages: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.scoring.score(input, callerName(ctx)),
    calibrateThreshold: (_: unknown, { input }: Args, { services }: Ctx) => services.scoring.calibrate(input),
    evaluate: (_: unknown, { input }: Args, { services }: Ctx) => services.scoring.evaluate(input),
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
    reused: (j: { status: string; startedAt: Date | null; negativeSetId: string | null }) => j.status === 'SUCCEEDED' && j.startedAt === null,
    taxonomyVersion: (j: { taxonomyVersionId: string }, _: Args, { services }: Ctx) => services.taxonomies.versionById(j.taxonomyVersionId),
    negativeSet: (j: { negativeSetId: string | null }, _: Args, { services }: Ctx) => (j.negativeSetId ? services.mining.negativeSet(j.negativeSetId) : null),
  },
  NegativeLabelSet: {
    model: (s: { modelId: string }) => s.modelId,
    active: async (s: { id: string; taxonomyVersionId: string }, _: Args, { services }: Ctx) =>
      (await services.taxonomies.versionById(s.taxonomyVersionId))?.activeNegativeSetId === s.id,
    taxonomyVersion: (s: { taxonomyVersionId: string }, _: Args, { services }: Ctx) => services.taxonomies.versionById(s.taxonomyVersionId),
    labels: (s: { id: string }, { first, after, group }: Args, { services }: Ctx) => services.mining.labels(s.id, first, after ?? null, group ?? null),
  },
  NegativeLabel: {
    partOfSpeech: (l: { partOfSpeech: string }) => toEnum(l.partOfSpeech),
    group: (l: { groupIndex: number }) => l.groupIndex,
  },
  ScoringRecord: {
    model: (r: { modelId: string }) => r.modelId,
    isOOD: (r: { isOod: boolean }) => r.isOod,
  },
};

