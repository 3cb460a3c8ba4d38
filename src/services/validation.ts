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
 * Characters that change how text displays without showing: bidirectional marks, embeddings,
 * overrides and isolates (a right-to-left override shows "cat\u202Egnp.exe" as "catexe.png"),
 * zero-width space, word joiner, invisible operators, the byte-order mark and the soft hyphen.
 * Zero-width (non-)joiners are not here: Persian, the Indic scripts and emoji sequences need them.
 */
const DISGUISING_CHARACTERS = /[\u00ad\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
/** and in identifiers (key names, idempotency keys), the joiners too: "ad\u200cmin" reads as "admin" */
const JOINERS = /[\u200c\u200d]/;

/**
 * True when `text` has C0 control characters or DEL (Postgres text refuses NUL; logs and terminals
 * misread the rest).
 */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}

/**
 * What is wrong with a text a person will read back (a name, a label) or match on (an identifier),
 * or null: control characters, or invisible characters that disguise what it says.
 */
export function unreadableCharacters(text: string, kind: 'prose' | 'identifier'): string | null {
  if (hasControlCharacters(text)) return 'control characters';
  if (DISGUISING_CHARACTERS.test(text) || (kind === 'identifier' && JOINERS.test(text)))
    return 'invisible formatting characters (bidirectional or zero-width)';
  return null;
}

/** `text` without control characters and bidirectional overrides (for names shown back to people). */
export function stripInvisibleCharacters(text: string): string {
  return text.replace(INVISIBLE_CHARACTERS, '');
}

/**
 * A trimmed name of 1 to `max` characters without control or disguising characters (Postgres text
 * refuses NUL; the rest make one name look like another).
 */
export function validateName(raw: string, field: string, max: number, kind: 'prose' | 'identifier' = 'prose'): string {
  const name = raw.normalize('NFC').trim();
  if (name.length === 0 || name.length > max)
    throw new InvalidInputError(`${field} must be 1 to ${max} characters.`, { field });
  const unreadable = unreadableCharacters(name, kind);
  if (unreadable)
    throw new InvalidInputError(`${field} contains ${unreadable}: remove them.`, { field }, 'INVALID_PARAMETER');
  return name;
}
