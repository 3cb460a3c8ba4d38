/** Checks shared by the services: ids and names as clients send them. */
import { InvalidInputError } from '../errors.ts';

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

/** A trimmed name of 1 to `max` characters without control characters (Postgres text refuses NUL). */
export function validateName(raw: string, field: string, max: number): string {
  const name = raw.normalize('NFC').trim();
  if (name.length === 0 || name.length > max) throw new InvalidInputError(`${field} must be 1 to ${max} characters.`, { field });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidInputError(`${field} contains control characters: remove them.`, { field }, 'INVALID_PARAMETER');
  return name;
}
