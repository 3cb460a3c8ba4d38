/**
 * HTML entity decoding for CLIP's text clean-up, as Python's `html.unescape` does it: the HTML5
 * named-reference table (2,231 names, the legacy ones also without their semicolon) and numeric
 * references with the WHATWG remapping come from the `entities` package. One rule is Python's own:
 * a numeric reference to a control or non-character code point (U+0001–U+0008, U+000B,
 * U+000E–U+001F, U+007F, U+FDD0–U+FDEF, U+nFFFE, U+nFFFF) decodes to nothing, where the
 * WHATWG decoder keeps the character. The text is decoded in pieces between such references, so
 * removing one never joins its neighbours into a new entity.
 */
import { decodeHTML } from 'entities';

const NUMERIC_REFERENCE = /&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?/g;

function droppedByPython(code: number): boolean {
  return (
    (code >= 0x1 && code <= 0x8) ||
    code === 0xb ||
    (code >= 0xe && code <= 0x1f) ||
    code === 0x7f ||
    (code >= 0xfdd0 && code <= 0xfdef) ||
    (code <= 0x10ffff && (code & 0xfffe) === 0xfffe)
  );
}

export function decodeHtmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  let decoded = '';
  let pieceStart = 0;
  for (const reference of text.matchAll(NUMERIC_REFERENCE)) {
    const code = reference[1] !== undefined ? parseInt(reference[1], 16) : parseInt(reference[2], 10);
    if (!droppedByPython(code)) continue;
    decoded += decodeHTML(text.slice(pieceStart, reference.index));
    pieceStart = reference.index + reference[0].length;
  }
  return decoded + decodeHTML(text.slice(pieceStart));
}
