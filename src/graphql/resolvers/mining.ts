/** Resolvers for mining jobs and negative label sets. Thin: they call the mining service. */
import { callerName } from '../context.ts';
import { ifVersionInScope } from '../scope.ts';
import type { Resolvers } from '../../generated/graphql.ts';

const toEnum = (value: string) => (value === 'noun' ? 'NOUN' : 'ADJECTIVE');

export const miningResolvers: Resolvers = {
  Query: {
    negativeLabelSet: async (_: unknown, { id }, ctx) =>
      ifVersionInScope(ctx, await ctx.services.mining.negativeSet(id)),
    miningJob: async (_: unknown, { id }, ctx) => ifVersionInScope(ctx, await ctx.services.mining.job(id)),
  },
  Mutation: {
    startMining: (_: unknown, { input }, ctx) => ctx.services.mining.start(input, callerName(ctx)),
    cancelMiningJob: (_: unknown, { id }, { services }) => services.mining.cancel(id),
  },
  MiningJob: {
    progress: (j) => (j.total > 0 ? Math.min(1, j.done / j.total) : 0),
    reused: (j) => j.status === 'SUCCEEDED' && j.startedAt === null,
    taxonomyVersion: (j, _, { services }) => services.taxonomies.referencedVersion(j.taxonomyVersionId),
    negativeSet: (j, _, { services }) => (j.negativeSetId ? services.mining.negativeSet(j.negativeSetId) : null),
  },
  NegativeLabelSet: {
    model: (s) => s.modelId,
    active: async (s, _, { services }) =>
      (await services.taxonomies.versionById(s.taxonomyVersionId))?.activeNegativeSetId === s.id,
    taxonomyVersion: (s, _, { services }) => services.taxonomies.referencedVersion(s.taxonomyVersionId),
    labels: (s, { first, after, group, search, partOfSpeech, orderBy }, { services }) =>
      services.mining.labels(
        s.id,
        first,
        after ?? null,
        {
          group: group ?? null,
          search: search ?? null,
          partOfSpeech: partOfSpeech ? (partOfSpeech === 'NOUN' ? 'noun' : 'adjective') : null,
        },
        orderBy ?? 'RANK',
      ),
  },
  MiningParameters: {
    method: (p) => p.method ?? 'NEGLABEL',
  },
  NegativeLabel: {
    partOfSpeech: (l) => toEnum(l.partOfSpeech),
    group: (l) => l.groupIndex,
  },
};
