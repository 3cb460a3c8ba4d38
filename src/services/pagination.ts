/**
 * Relay-style pages: opaque cursors (base64url of a key), validated `first`, and the
 * edges/pageInfo shape every connection returns.
 */
import { InvalidInputError } from '../errors.ts';
import { isPosition } from '../repositories/history-position.ts';

export function encodeCursor(key: string): string {
  return Buffer.from(key).toString('base64url');
}

export function decodeCursor(after: string | null | undefined): string | null {
  return after ? Buffer.from(after, 'base64url').toString('utf8') : null;
}

function decodeChecked(after: string | null | undefined, connection: string, valid: (key: string) => boolean) {
  const cursor = decodeCursor(after);
  if (cursor !== null && !valid(cursor))
    throw new InvalidInputError(`after is not a cursor from ${connection}.`, { field: 'after' }, 'INVALID_CURSOR');
  return cursor;
}

/** A cursor over numeric ids (bigint sequences); refuses anything else. */
export function decodeIdCursor(after: string | null | undefined, connection: string): string | null {
  return decodeChecked(after, connection, (key) => /^\d{1,18}$/.test(key));
}

/** A cursor over positions in the history's order (history-position.ts); refuses anything else. */
export function decodePositionCursor(after: string | null | undefined, connection: string): string | null {
  return decodeChecked(after, connection, isPosition);
}

export function validateFirst(first: number, max: number): void {
  if (!Number.isInteger(first) || first < 0 || first > max)
    throw new InvalidInputError(`first must be between 0 and ${max}.`, { field: 'first' });
}

/**
 * A page as every connection returns it. `after` is the cursor the page was asked for: the item it
 * names comes before the page, so there is a previous page exactly when it is given.
 */
export function connection<T>(rows: T[], hasNextPage: boolean, key: (node: T) => string, after: string | null) {
  const edges = rows.map((node) => ({ cursor: encodeCursor(key(node)), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasPreviousPage: after !== null,
      startCursor: edges[0]?.cursor ?? null,
    },
  };
}
