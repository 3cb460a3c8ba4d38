/** Image inputs as clients send them (base64 + filename + transparency options) → bytes, with clear errors. */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { parseBackgroundColour, type AlphaHandling } from '../inference/image-preprocessing.ts';
import { stripInvisibleCharacters } from './validation.ts';

export interface ImageInput {
  data: string;
  filename?: string | null;
  /** "#rrggbb": composite transparent pixels over this colour instead of the model's default */
  background?: string | null;
  /** true: drop alpha as Pillow's convert('RGB') does (reference pipelines) */
  dropAlpha?: boolean | null;
}

export interface DecodedImage {
  bytes: Uint8Array;
  filename: string | null;
  sha256: string;
  /** null: the model's default handling */
  alpha: AlphaHandling | null;
}

function alphaOf(image: ImageInput, field: string, index: number): AlphaHandling | null {
  if (image.dropAlpha && image.background != null) {
    throw new InvalidInputError(
      `${field}[${index}]: give background or dropAlpha, not both.`,
      { field, index },
      'INVALID_PARAMETER',
    );
  }
  if (image.dropAlpha) return 'drop';
  if (image.background == null) return null;
  const alpha = parseBackgroundColour(image.background);
  if (!alpha) {
    throw new InvalidInputError(
      `${field}[${index}].background must be a colour as "#rrggbb", for example "#ffffff".`,
      { field, index },
      'INVALID_PARAMETER',
    );
  }
  return alpha;
}

const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;
const MAX_FILENAME = 255;

/**
 * A filename as the history keeps it: control characters (NUL included, which Postgres text
 * refuses) and bidirectional overrides (which make `gpj.exe` display as `exe.jpg`) removed, at
 * most 255 characters.
 */
export function cleanFilename(name: string | null | undefined): string | null {
  if (name == null) return null;
  const cleaned = Array.from(stripInvisibleCharacters(name.normalize('NFC')).trim())
    .slice(0, MAX_FILENAME)
    .join('');
  return cleaned.length > 0 ? cleaned : null;
}

export function decodeImageInputs(images: readonly ImageInput[], maxImages: number, field = 'images'): DecodedImage[] {
  if (images.length === 0) throw new InvalidInputError(`${field} is empty: send at least one image.`, { field });
  if (images.length > maxImages) {
    throw new InvalidInputError(
      `${field} has ${images.length} images, over the limit of ${maxImages} per request: split the batch.`,
      { field, max: maxImages },
      'BATCH_TOO_LARGE',
    );
  }
  return images.map((image, index) => {
    // Accept a data: URL too, since browsers produce those.
    const data = image.data.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
    if (!BASE64.test(data) || data.length % 4 === 1) {
      throw new InvalidInputError(
        `${field}[${index}].data is not valid base64: encode the file's bytes as base64.`,
        { field, index },
        'INVALID_BASE64',
      );
    }
    const bytes = new Uint8Array(Buffer.from(data, data.includes('-') || data.includes('_') ? 'base64url' : 'base64'));
    const alpha = alphaOf(image, field, index);
    return {
      bytes,
      filename: cleanFilename(image.filename),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      alpha,
    };
  });
}
