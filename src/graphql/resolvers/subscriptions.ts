/**
 * Resolvers of the pushed updates (graphql-ws, src/http/subscriptions.ts): a mining job as it runs,
 * a taxonomy's records as they are written. Admission and scope are checked before the stream
 * starts, so a refusal is an error answer, not a stream that fails later.
 */
import { NotFoundError } from '../../errors.ts';
import type { Resolvers } from '../../generated/graphql.ts';
import type { MiningJobParent, ScoringRecordParent } from '../parents.ts';
import { ifVersionInScope, requireTaxonomyInScope } from '../scope.ts';

export const subscriptionResolvers: Resolvers = {
  Subscription: {
    miningJobUpdated: {
      subscribe: async (_: unknown, { id }, ctx) => {
        const updates = await ctx.services.mining.follow(id);
        const first = updates ? await updates.next() : null;
        if (!updates || first?.done || !(await ifVersionInScope(ctx, first?.value ?? null)))
          throw new NotFoundError('Mining job', id, 'startMining returns the ids of jobs');
        return (async function* () {
          yield first!.value;
          yield* updates;
        })();
      },
      resolve: (job: MiningJobParent) => job,
    },
    scoringRecordAdded: {
      subscribe: async (_: unknown, { taxonomyId }, ctx) => {
        requireTaxonomyInScope(ctx, taxonomyId);
        if (!(await ctx.services.taxonomies.get(taxonomyId)))
          throw new NotFoundError('Taxonomy', taxonomyId, 'query `taxonomies` for the ids this key may use');
        return ctx.services.history.follow(taxonomyId);
      },
      resolve: (record: ScoringRecordParent) => record,
    },
  },
};
