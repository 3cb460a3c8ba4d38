/**
 * Keys limited to some taxonomies: what such a key may name and see. Taxonomies outside its scope
 * are reported exactly as missing ones, so a key learns nothing about other product lines.
 */
import { DomainError, NotFoundError } from '../errors.ts';
import { inScope } from '../services/access-service.ts';
import type { GraphQLContext } from './context.ts';

export function requireTaxonomyInScope(context: GraphQLContext, taxonomyId: string): void {
  if (!inScope(context.auth, taxonomyId))
    throw new NotFoundError('Taxonomy', taxonomyId, 'query `taxonomies` for the ids this key may use');
}

/** History queries of a limited key must name one of its taxonomies. */
export function scopedFilter<F extends { taxonomyId?: string | null }>(
  context: GraphQLContext,
  filter: F | null | undefined,
): F | null | undefined {
  if (!context.auth?.taxonomyIds) return filter;
  if (!filter?.taxonomyId) {
    throw new DomainError('FORBIDDEN', 'This key is limited to some taxonomies: filter by taxonomyId, one of them.');
  }
  requireTaxonomyInScope(context, filter.taxonomyId);
  return filter;
}

/** The object when the taxonomy version it belongs to is in scope, else null (as if missing). */
export async function ifVersionInScope<T extends { taxonomyVersionId: string }>(
  context: GraphQLContext,
  item: T | null,
): Promise<T | null> {
  if (!item || !context.auth?.taxonomyIds) return item;
  const version = await context.services.taxonomies.versionById(item.taxonomyVersionId);
  return version && inScope(context.auth, version.taxonomyId) ? item : null;
}
