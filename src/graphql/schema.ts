/** The executable schema: schema.graphql (the contract) + resolvers. */
import { readFileSync } from 'node:fs';
import GraphQLUpload from 'graphql-upload/GraphQLUpload.mjs';
import { DateTime } from './scalars.ts';
import { subscribeWithAccessControl, withAccessControl } from './access.ts';
import { accessResolvers } from './resolvers/access.ts';
import { historyResolvers } from './resolvers/history.ts';
import { historyLogResolvers } from './resolvers/history-log.ts';
import { miningResolvers } from './resolvers/mining.ts';
import { scoringResolvers } from './resolvers/scoring.ts';
import { taxonomyResolvers } from './resolvers/taxonomies.ts';
import { subscriptionResolvers } from './resolvers/subscriptions.ts';
import { systemResolvers } from './resolvers/system.ts';

export const typeDefs = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

/** Resolvers as generic maps, for merging and wrapping (each domain's map is typed against the schema). */
type ResolverMap = Record<string, Record<string, unknown>>;

function merge(...maps: object[]): ResolverMap {
  const out: ResolverMap = {};
  for (const map of maps as ResolverMap[])
    for (const [type, fields] of Object.entries(map)) out[type] = { ...out[type], ...fields };
  return out;
}

const merged = merge(
  { DateTime, Upload: GraphQLUpload },
  systemResolvers,
  taxonomyResolvers,
  miningResolvers,
  scoringResolvers,
  historyResolvers,
  historyLogResolvers,
  accessResolvers,
  subscriptionResolvers,
);
for (const type of ['Query', 'Mutation'] as const) {
  for (const [field, resolve] of Object.entries(merged[type]))
    merged[type][field] = withAccessControl(type, field, resolve as never);
}

for (const [field, resolver] of Object.entries(merged.Subscription)) {
  const r = resolver as { subscribe: never; resolve: unknown };
  merged.Subscription[field] = { ...r, subscribe: subscribeWithAccessControl(field, r.subscribe) };
}

export const resolvers = merged;

/** Every root field of the contract (the fixed set of operation names metrics may carry). */
export const rootFields: ReadonlySet<string> = new Set(
  ['Query', 'Mutation', 'Subscription'].flatMap((type) => Object.keys(merged[type])),
);
