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
    progress: (j: { done: number; total: number }) => (j.total > 0 ? Math.min(1, j.done / j.total) : 0),
    reused: (j: { status: string; startedAt: Date | null; negativeSetId: string | null }) =>
      j.status === 'SUCCEEDED' && j.startedAt === null,
    taxonomyVersion: (j: { taxonomyVersionId: string }, _, { services }) =>
      services.taxonomies.versionById(j.taxonomyVersionId),
    negativeSet: (j: { negativeSetId: string | null }, _, { services }) =>
      j.negativeSetId ? services.mining.negativeSet(j.negativeSetId) : null,
  },
  NegativeLabelSet: {
    model: (s: { modelId: string }) => s.modelId,
    active: async (s: { id: string; taxonomyVersionId: string }, _, { services }) =>
      (await services.taxonomies.versionById(s.taxonomyVersionId))?.activeNegativeSetId === s.id,
    taxonomyVersion: (s: { taxonomyVersionId: string }, _, { services }) =>
      services.taxonomies.versionById(s.taxonomyVersionId),
    labels: (s: { id: string }, { first, after, group }, { services }) =>
      services.mining.labels(s.id, first, after ?? null, group ?? null),
  },
  MiningParameters: {
    method: (p: { method?: 'CSP' }) => p.method ?? 'NEGLABEL',
  },
  NegativeLabel: {
    partOfSpeech: (l: { partOfSpeech: string }) => toEnum(l.partOfSpeech),
    group: (l: { groupIndex: number }) => l.groupIndex,
  },
};
