/** Resolvers for taxonomies and their versions. Thin: they call the taxonomy service. */
import { inScope } from '../../services/access-service.ts';
import { callerName, type GraphQLContext } from '../context.ts';

type Ctx = GraphQLContext;
type Args = Record<string, any>;

export const taxonomyResolvers = {
  Query: {
    taxonomies: (_: unknown, { first, after }: Args, ctx: Ctx) =>
      ctx.services.taxonomies.page(first, after ?? null, ctx.auth?.taxonomyIds ?? null),
    taxonomy: async (_: unknown, { id }: Args, ctx: Ctx) => {
      const taxonomy = await ctx.services.taxonomies.get(id);
      return taxonomy && inScope(ctx.auth, taxonomy.id) ? taxonomy : null;
    },
  },
  Mutation: {
    createTaxonomy: (_: unknown, { input }: Args, ctx: Ctx) => ctx.services.taxonomies.create(input, callerName(ctx)),
    createTaxonomyVersion: (_: unknown, { input }: Args, ctx: Ctx) =>
      ctx.services.taxonomies.createVersion(input, callerName(ctx)),
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
};
