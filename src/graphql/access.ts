/**
 * Access control for every operation, in one place: the roles allowed per root field (unlisted
 * fields are admin-only), authentication once per request, the in-flight bound of heavy fields,
 * and the audit log entry of each successful admin mutation. GraphQL resolvers and the /v1 routes
 * both enter through `admit`. The tables are keyed by the schema's own field names (typed from
 * the generated resolver types), so a renamed or misspelt field does not compile.
 */
import { DomainError } from '../errors.ts';
import type {
  MutationResolvers,
  QueryResolvers,
  Role as GraphQLRole,
  SubscriptionResolvers,
} from '../generated/graphql.ts';
import type { Caller, Role } from '../services/access-service.ts';
import type { InFlightLimiter } from '../services/in-flight-limiter.ts';
import type { Services } from '../services/index.ts';
import type { GraphQLContext } from './context.ts';

type QueryField = Extract<keyof QueryResolvers, string>;
type MutationField = Extract<keyof MutationResolvers, string>;
type SubscriptionField = Extract<keyof SubscriptionResolvers, string>;
/** A root field of the schema, as `Query.field`, `Mutation.field` or `Subscription.field`. */
export type RootField = `Query.${QueryField}` | `Mutation.${MutationField}` | `Subscription.${SubscriptionField}`;

/** The schema's Role enum for each role the service knows (a role missing here does not compile). */
const GRAPHQL_ROLES: Record<Role, GraphQLRole> = { admin: 'ADMIN', scorer: 'SCORER', auditor: 'AUDITOR' };

/** A role as the schema spells it; a stored key's role is one the service wrote. */
export function graphqlRole(role: string): GraphQLRole {
  const named = GRAPHQL_ROLES[role as Role];
  if (!named) throw new Error(`unknown role ${JSON.stringify(role)} in the database`);
  return named;
}

const EVERYONE: Role[] = ['admin', 'scorer', 'auditor'];
const READERS: Role[] = ['admin', 'auditor'];
const SCORERS: Role[] = ['admin', 'scorer'];

/** Fields anyone may call, even without a key (monitoring). */
const PUBLIC = new Set<RootField>(['Query.health', 'Query.models']);

const ALLOWED: Partial<Record<RootField, Role[]>> = {
  'Query.me': EVERYONE,
  'Query.taxonomies': EVERYONE,
  'Query.taxonomy': EVERYONE,
  'Query.negativeLabelSet': EVERYONE,
  'Query.miningJob': EVERYONE,
  'Query.scoringRecords': READERS,
  'Query.scoringRecord': READERS,
  'Query.scoringStats': READERS,
  'Query.similarScoringRecords': READERS,
  'Query.auditLog': READERS,
  'Query.historyCheckpoint': READERS,
  'Query.historySigningKeys': READERS,
  'Query.historyConsistencyProof': READERS,
  'Subscription.miningJobUpdated': EVERYONE,
  'Subscription.scoringRecordAdded': READERS,
  'Query.adaptiveMemory': READERS,
  'Query.embedTexts': SCORERS,
  'Query.embedImages': SCORERS,
  'Mutation.embedTexts': SCORERS,
  'Mutation.embedImages': SCORERS,
  'Mutation.scoreImages': SCORERS,
  'Mutation.scoreImageBatch': SCORERS,
  'Mutation.evaluate': SCORERS,
};

/**
 * Roles whose multipart uploads are read at all (src/http/server.ts): those that may score. An
 * auditor's image lookups take base64 or a URL.
 */
export function mayUploadImages(role: Role): boolean {
  return ALLOWED['Mutation.scoreImages']!.includes(role);
}

/** Mutations that write nothing (all others are refused with STORAGE_FULL when the disk is full). */
const READ_ONLY_MUTATIONS = new Set<MutationField>(['embedTexts', 'embedImages']);

/** Root fields that run the encoders: bounded per caller in flight, and one per operation. */
export const HEAVY = new Set<QueryField | MutationField>([
  'embedTexts',
  'embedImages',
  'scoreImages',
  'scoreImageBatch',
  'calibrateThreshold',
  'evaluate',
  'similarScoringRecords',
]);

/**
 * Mutations recorded in the audit log (key management records itself, with the key id). evaluate
 * and calibrateThreshold score images without writing scoring records, so the log is their trace.
 */
const AUDITED = new Set<MutationField>([
  'createTaxonomy',
  'createTaxonomyVersion',
  'startMining',
  'cancelMiningJob',
  'calibrateThreshold',
  'evaluate',
  'freezeAdaptiveMemory',
  'unfreezeAdaptiveMemory',
  'setThumbnailPolicy',
]);

/** The numbers of a result worth keeping in the log (never score lists or image data). */
function resultSummary(field: string, result: unknown): Record<string, unknown> {
  const r = result as Record<string, unknown>;
  if (field === 'evaluate')
    return { auroc: r.auroc, fpr95: r.fpr95, threshold95: r.threshold95, fpr95AtThreshold: r.fpr95AtThreshold };
  if (field === 'calibrateThreshold')
    return { threshold: r.threshold, space: r.space, achievedTpr: r.achievedTpr, applied: r.applied };
  return {};
}

type Resolver = (parent: unknown, args: Record<string, any>, context: GraphQLContext, info: unknown) => unknown;

/** What the audit log keeps of the arguments: scalars, and the size of lists (not image bytes). */
function summarize(args: Record<string, any>): Record<string, unknown> {
  const input = args.input ?? args;
  return Object.fromEntries(
    Object.entries(input).map(([k, v]) => [
      k,
      Array.isArray(v) ? { count: v.length } : typeof v === 'object' && v !== null ? '[object]' : v,
    ]),
  );
}

/** Refuses a caller whose role may not call the root field (the table above; unlisted: admin only). */
function assertAllowed(caller: Caller, operation: RootField): void {
  const allowed = ALLOWED[operation] ?? ['admin'];
  if (!allowed.includes(caller.role)) {
    throw new DomainError(
      'FORBIDDEN',
      `The ${caller.role} role may not call ${operation.split('.')[1]}: it needs ${allowed.join(' or ')}.`,
    );
  }
}

/** What a request brings to admission; `auth` is filled in once it has authenticated. */
export interface Admission {
  services: Services;
  /** the raw Authorization header */
  authorization: string | undefined;
  auth?: Caller;
  requestId: string;
  inFlight: InFlightLimiter;
}

/**
 * Admits a request to an operation, before any of its work: authenticates it (once per request),
 * checks its role, refuses a write when the disk is full (so it costs nothing and changes
 * nothing), and takes an in-flight slot for a heavy field. Returns the slot's release.
 */
export async function admit(request: Admission, operation: RootField): Promise<() => void> {
  request.auth ??= await request.services.access.authenticate(request.authorization);
  assertAllowed(request.auth, operation);
  const [type, field] = operation.split('.') as ['Query' | 'Mutation' | 'Subscription', QueryField & MutationField];
  if (type === 'Mutation' && !READ_ONLY_MUTATIONS.has(field)) request.services.storage.assertWritable();
  return HEAVY.has(field) ? request.inFlight.acquire(request.auth.keyId ?? `anonymous:${request.requestId}`) : () => {};
}

/** A subscription's `subscribe`, admitted as any root field before its stream starts. */
export function subscribeWithAccessControl(field: string, subscribe: Resolver): Resolver {
  const operation = `Subscription.${field}` as RootField;
  return async (parent, args, context, info) => {
    (await admit(context, operation))();
    return subscribe(parent, args, context, info);
  };
}

export function withAccessControl(type: 'Query' | 'Mutation', field: string, resolve: Resolver): Resolver {
  const operation = `${type}.${field}` as RootField;
  if (PUBLIC.has(operation)) return resolve;
  return async (parent, args, context, info) => {
    const release = await admit(context, operation);
    let result: unknown;
    try {
      result = await resolve(parent, args, context, info);
    } finally {
      release();
    }
    if (type === 'Mutation' && AUDITED.has(field as MutationField)) {
      const target =
        field === 'evaluate' || field === 'calibrateThreshold'
          ? args.input?.taxonomyId
          : ((result as { id?: string } | null)?.id ?? args.id ?? args.input?.taxonomyId ?? null);
      const r = result as { id?: string; taxonomyId?: string } | null;
      const taxonomyId =
        args.taxonomyId ?? args.input?.taxonomyId ?? r?.taxonomyId ?? (field === 'createTaxonomy' ? r?.id : null);
      await context.services.access.audit(
        context.auth!,
        field,
        target ?? null,
        { ...summarize(args), ...resultSummary(field, result) },
        taxonomyId ?? null,
      );
    }
    return result;
  };
}
