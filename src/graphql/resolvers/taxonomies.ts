/** Resolvers for taxonomies and their versions. Thin: they call the taxonomy service. */
import { inScope } from '../../services/access-service.ts';
import { callerName } from '../context.ts';
import type { Resolvers } from '../../generated/graphql.ts';

export const taxonomyResolvers: Resolvers = {
  Query: {
    taxonomies: (_: unknown, { first, after }, ctx) =>
      ctx.services.taxonomies.page(first, after ?? null, ctx.auth?.taxonomyIds ?? null),
    taxonomy: async (_: unknown, { id }, ctx) => {
      const taxonomy = await ctx.services.taxonomies.get(id);
      return taxonomy && inScope(ctx.auth, taxonomy.id) ? taxonomy : null;
    },
  },
  Mutation: {
    createTaxonomy: (_: unknown, { input }, ctx) => ctx.services.taxonomies.create(input, callerName(ctx)),
    createTaxonomyVersion: (_: unknown, { input }, ctx) =>
      ctx.services.taxonomies.createVersion(input, callerName(ctx)),
    setThumbnailPolicy: (_: unknown, { taxonomyId, storeThumbnails, retentionDays }, { services }) =>
      services.taxonomies.setThumbnailPolicy(taxonomyId, storeThumbnails, retentionDays),
  },
  Taxonomy: {
    latestVersion: (t, _, { services }) => services.taxonomies.latestVersion(t.id),
    versions: (t, _, { services }) => services.taxonomies.versions(t.id),
    memoryFrozenSnapshotId: (t) => t.memoryFrozenSnapshot?.toString() ?? null,
  },
  TaxonomyVersion: {
    labelCount: (v) => v.labels.length,
    model: (v) => v.modelId,
    activeNegativeSet: (v, _, { services }) =>
      v.activeNegativeSetId ? services.mining.negativeSet(v.activeNegativeSetId) : null,
    miningJobs: (v, _, { services }) => services.mining.jobsForVersion(v.id),
  },
};
