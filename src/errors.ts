/**
 * Domain errors. Each has a stable `code` that clients can switch on; one place
 * (src/graphql/errors.ts) turns them into GraphQL errors. Messages say what to do next.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is wrong and the caller can fix it. */
export class InvalidInputError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>, code = 'BAD_USER_INPUT') {
    super(code, message, details);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string, hint = '') {
    super('NOT_FOUND', `${what} ${JSON.stringify(id)} does not exist${hint ? `: ${hint}` : ''}`, { id });
  }
}

/** Bytes that cannot be decoded as an image (or are refused by design). */
export class ImageDecodeError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_IMAGE', message, details);
  }
}

export class ImageTooLargeError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('IMAGE_TOO_LARGE', message, details);
  }
}

/** A model is unknown, absent or failed to load. */
export class ModelUnavailableError extends DomainError {
  constructor(
    code: 'MODEL_NOT_FOUND' | 'MODEL_NOT_LOADED' | 'NO_MODEL',
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}

/** The operation conflicts with the current state (for example no active negative set yet). */
export class ConflictError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** The request's deadline (x-request-timeout-ms) passed before its work was done. */
export class DeadlineExceededError extends DomainError {
  constructor(message: string) {
    super('DEADLINE_EXCEEDED', message);
  }
}

/** Nothing was written because storage is full: our guard refused first, or the database server said so. */
export class StorageFullError extends DomainError {
  /** @param reportedByDatabase the database server's disk-full error (so /readyz can say so), not our guard */
  constructor(
    message: string,
    readonly reportedByDatabase = false,
  ) {
    super('STORAGE_FULL', message);
  }
}

export const DATABASE_DEADLINE_MESSAGE =
  "The request's deadline passed while it waited for the database (a statement was not started, or was " +
  'cancelled: nothing it would have written was kept): retry with a longer x-request-timeout-ms, or when the ' +
  'service is less busy.';

/** True for Postgres' disk_full (53100) or a file system's ENOSPC anywhere in an error's causes. */
function isDiskFullError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const e = error as Record<string, unknown>;
  if (e.code === '53100' || e.originalCode === '53100' || e.code === 'ENOSPC') return true;
  return ['cause', 'originalError', 'meta', 'driverAdapterError'].some((key) => isDiskFullError(e[key], depth + 1));
}

/**
 * The domain error a library's error stands for. Prisma wraps an error its driver adapter threw (a
 * deadline refused by src/database/request-deadlines.ts) but keeps its code; its message names
 * source files, so it is replaced. A database's disk-full error becomes STORAGE_FULL, which clients
 * can act on. Anything else is returned as it is.
 */
export function unwrapDomainError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if ((error as { code?: unknown } | null)?.code === 'DEADLINE_EXCEEDED')
    return new DeadlineExceededError(DATABASE_DEADLINE_MESSAGE);
  if (isDiskFullError(error))
    return new StorageFullError(
      'The database is out of disk space, so this write did not happen: free space on the database server, then retry.',
      true,
    );
  return error;
}
