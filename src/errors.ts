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
