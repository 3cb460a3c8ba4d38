/**
 * Access control for every root field, in one place: the roles allowed per operation (unlisted
 * operations are admin-only), authentication once per request, and the audit log entry of each
 * successful admin mutation.
 */
import { DomainError } from '../errors.ts';
import type { Caller, Role } from '../services/access-service.ts';
import type { GraphQLContext } from './context.ts';

const EVERYONE: Role[] = ['admin', 'scorer', 'auditor'];
const READERS: Role[] = ['admin', 'auditor'];
const SCORERS: Role[] = ['admin', 'scorer'];

/** Fields anyone may call, even without a key (monitoring). */
const PUBLIC = new Set(['Query.health', 'Query.models']);

const ALLOWED: Record<string, Role[]> = {
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
  'Query.adaptiveMemory': READERS,
  'Query.embedTexts': SCORERS,
  'Query.embedImages': SCORERS,
  'Mutation.embedTexts': SCORERS,
  'Mutation.embedImages': SCORERS,
  'Mutation.scoreImages': SCORERS,
  'Mutation.evaluate': SCORERS,
};

/**
 * Roles whose multipart uploads are read at all (src/http/server.ts): those that may score. An
 * auditor's image lookups take base64 or a URL.
 */
export function mayUploadImages(role: Role): boolean {
  return ALLOWED['Mutation.scoreImages'].includes(role);
}

/** Mutations that write nothing (all others are refused with STORAGE_FULL when the disk is full). */
const READ_ONLY_MUTATIONS = new Set(['embedTexts', 'embedImages']);

/** Root fields that run the encoders: bounded per caller in flight, and one per operation. */
export const HEAVY = new Set([
  'embedTexts',
  'embedImages',
  'scoreImages',
  'calibrateThreshold',
  'evaluate',
  'similarScoringRecords',
]);

/**
 * Mutations recorded in the audit log (key management records itself, with the key id). evaluate
 * and calibrateThreshold score images without writing scoring records, so the log is their trace.
 */
const AUDITED = new Set([
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
export function assertAllowed(caller: Caller, type: 'Query' | 'Mutation', field: string): void {
  const allowed = ALLOWED[`${type}.${field}`] ?? ['admin'];
  if (!allowed.includes(caller.role)) {
    throw new DomainError(
      'FORBIDDEN',
      `The ${caller.role} role may not call ${field}: it needs ${allowed.join(' or ')}.`,
    );
  }
}

export function withAccessControl(type: 'Query' | 'Mutation', field: string, resolve: Resolver): Resolver {
  if (PUBLIC.has(`${type}.${field}`)) return resolve;
  return async (parent, args, context, info) => {
    context.auth ??= await context.services.access.authenticate(context.authorization);
    assertAllowed(context.auth, type, field);
    // checked before any work, so a full disk costs the caller nothing and changes nothing
    if (type === 'Mutation' && !READ_ONLY_MUTATIONS.has(field)) context.services.storage.assertWritable();
    const release = HEAVY.has(field)
      ? context.inFlight.acquire(context.auth.keyId ?? `anonymous:${context.requestId}`)
      : null;
    let result: unknown;
    try {
      result = await resolve(parent, args, context, info);
    } finally {
      release?.();
    }
    if (type === 'Mutation' && AUDITED.has(field)) {
      const target =
        field === 'evaluate' || field === 'calibrateThreshold'
          ? args.input?.taxonomyId
          : ((result as { id?: string } | null)?.id ?? args.id ?? args.input?.taxonomyId ?? null);
      const r = result as { id?: string; taxonomyId?: string } | null;
      const taxonomyId =
        args.taxonomyId ?? args.input?.taxonomyId ?? r?.taxonomyId ?? (field === 'createTaxonomy' ? r?.id : null);
      await context.services.access.audit(
        context.auth,
        field,
        target ?? null,
        { ...summarize(args), ...resultSummary(field, result) },
        taxonomyId ?? null,
      );
    }
    return result;
  };
}
