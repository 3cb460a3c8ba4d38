/** Checks shared by the services: ids and names as clients send them. */
import { InvalidInputError } from '../errors.ts';

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
// C0 and C1 controls, and the bidi marks that can disguise a name
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const INVISIBLE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * True when `text` has C0 control characters or DEL (Postgres text refuses NUL; logs and terminals
 * misread the rest).
 */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}

/** `text` without control characters and bidirectional overrides (for names shown back to people). */
export function stripInvisibleCharacters(text: string): string {
  return text.replace(INVISIBLE_CHARACTERS, '');
}

/** A trimmed name of 1 to `max` characters without control characters (Postgres text refuses NUL). */
export function validateName(raw: string, field: string, max: number): string {
  const name = raw.normalize('NFC').trim();
  if (name.length === 0 || name.length > max)
    throw new InvalidInputError(`${field} must be 1 to ${max} characters.`, { field });
  if (hasControlCharacters(name))
    throw new InvalidInputError(`${field} contains control characters: remove them.`, { field }, 'INVALID_PARAMETER');
  return name;
}
