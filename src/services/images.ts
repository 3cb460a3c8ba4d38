/**
 * Image inputs as clients send them (base64 bytes, a multipart upload or a URL; a filename and
 * transparency options) → bytes, with clear errors.
 */
import { createHash } from 'node:crypto';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import { DomainError, InvalidInputError } from '../errors.ts';
import { parseBackgroundColour, type AlphaHandling } from '../inference/image-preprocessing.ts';
import { fetchImageUrl, type UrlFetchOptions } from './url-images.ts';
import { stripInvisibleCharacters } from './validation.ts';

export interface ImageInput {
  /** exactly one of data (base64), file (a multipart upload) and url */
  data?: string | null;
  file?: Promise<FileUpload> | null;
  url?: string | null;
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
  /** the URL it was fetched from, or null */
  url: string | null;
}

/** Where image bytes may come from, and how much of them. */
export interface ImageSourceLimits {
  maxImages: number;
  /** per uploaded file or fetched URL */
  maxFileBytes: number;
  /** over all images of one request, however they came */
  maxRequestBytes: number;
  url: UrlFetchOptions;
  /** NEGLABEL_HISTORY_URL_QUERY=keep: the history keeps a URL's query string (default: dropped) */
  keepUrlQuery: boolean;
}

/**
 * The bytes one request's images may bring, counted as they arrive (base64 by its length before
 * decoding, uploads and URL bodies chunk by chunk) over every source together: the request is
 * refused the moment the budget is spent, before the next image is decoded or read further. An
 * image given N times (one variable in N slots) counts N times.
 */
class ByteBudget {
  private spent = 0;

  constructor(
    private readonly max: number,
    private readonly field: string,
  ) {}

  /** Counts `bytes` more, or throws once the request is over its budget (and for every later take). */
  take(bytes: number): void {
    this.spent += bytes;
    if (this.spent <= this.max) return;
    throw new InvalidInputError(
      `${this.field} bring more than ${this.max} bytes together, over the budget per request: send fewer or ` +
        'smaller images per request.',
      { field: this.field, max: this.max },
      'REQUEST_BUDGET_EXCEEDED',
    );
  }
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

/**
 * The bytes clean base64 of this length decodes to, or -1 for a length no base64 has (Node's
 * decoder would drop the odd character silently).
 */
function cleanDecodedLength(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const characters = text.length - padding;
  return characters % 4 === 1 ? -1 : Math.floor((characters * 3) / 4);
}

function decodeBase64(data: string, field: string, index: number, budget: ByteBudget): Uint8Array {
  // Accept a data: URL too, since browsers produce those.
  let text = data.startsWith('data:') ? data.replace(/^data:[^,]*;base64,/, '') : data;
  // at most this many bytes come out: counted before anything is allocated
  budget.take(Math.ceil((text.length * 3) / 4));
  // Node's decoder (both alphabets) skips any other character silently: a payload that decodes
  // to exactly the length its characters promise had none, so it needs no scan of its own. Only
  // one that comes up short is scanned: whitespace is dropped, anything else refused.
  let bytes = Buffer.from(text, 'base64');
  if (bytes.length !== cleanDecodedLength(text)) {
    text = text.replace(/\s+/g, '');
    if (!BASE64.test(text) || text.length % 4 === 1) {
      throw new InvalidInputError(
        `${field}[${index}].data is not valid base64: encode the file's bytes as base64.`,
        { field, index },
        'INVALID_BASE64',
      );
    }
    bytes = Buffer.from(text, 'base64');
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** An upload's bytes; the multipart parser stops a file at the per-file limit (HTTP 413 on its stream). */
async function readUpload(
  upload: Promise<FileUpload>,
  field: string,
  index: number,
  maxBytes: number,
  budget: ByteBudget,
) {
  const file = await upload;
  const chunks: Buffer[] = [];
  let stream: ReturnType<FileUpload['createReadStream']> | undefined;
  try {
    // throws at once when the parser already stopped the file (a loaded server reads it late)
    stream = file.createReadStream();
    for await (const chunk of stream) {
      budget.take((chunk as Buffer).length);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    stream?.destroy();
    if ((error as { status?: number }).status === 413)
      throw new InvalidInputError(
        `${field}[${index}].file is over ${maxBytes} bytes: send a smaller file.`,
        { field, index, max: maxBytes, filename: file.filename },
        'IMAGE_TOO_LARGE',
      );
    if (error instanceof DomainError) throw error; // the request's byte budget
    // the file's bytes stopped coming: the body was cut short or the client went away
    throw new InvalidInputError(
      `${field}[${index}].file ended before its last byte (${(error as Error).message}): send the whole file again.`,
      { field, index, filename: file.filename },
      'UPLOAD_INCOMPLETE',
    );
  }
  return { bytes: new Uint8Array(Buffer.concat(chunks)), filename: file.filename };
}

/**
 * A URL as the history keeps it: never a user name and password; its query and fragment only when
 * `keepQuery` (signed URLs carry their secrets there, and the history is kept for good).
 */
function historyUrl(raw: string, keepQuery: boolean): string {
  const url = new URL(raw);
  url.username = '';
  url.password = '';
  if (!keepQuery) {
    url.search = '';
    url.hash = '';
  }
  return url.href;
}

/** The bytes of one image from whichever source it names (exactly one). */
async function readSource(
  image: ImageInput,
  limits: ImageSourceLimits,
  field: string,
  index: number,
  budget: ByteBudget,
) {
  const sources = [image.data, image.file, image.url].filter((s) => s != null).length;
  if (sources !== 1) {
    throw new InvalidInputError(
      `${field}[${index}] must give exactly one of data (base64), file (an upload) and url; it gives ${sources}.`,
      { field, index },
      'INVALID_PARAMETER',
    );
  }
  if (image.data != null) return { bytes: decodeBase64(image.data, field, index, budget), filename: null, url: null };
  if (image.file != null)
    return { ...(await readUpload(image.file, field, index, limits.maxFileBytes, budget)), url: null };
  try {
    const bytes = await fetchImageUrl(image.url!, limits.url, (chunk) => budget.take(chunk));
    return { bytes, filename: null, url: historyUrl(image.url!, limits.keepUrlQuery) };
  } catch (error) {
    if (error instanceof DomainError)
      throw new DomainError(error.code, `${field}[${index}].url: ${error.message}`, { ...error.details, field, index });
    throw error;
  }
}

/**
 * Codes of errors that belong to one image (its bytes, its upload, its URL) rather than to the
 * request: a batch scored image by image (scoreImageBatch) reports them for that image alone.
 */
export const IMAGE_FAULT_CODES = [
  'INVALID_IMAGE',
  'IMAGE_TOO_LARGE',
  'INVALID_BASE64',
  'UPLOAD_INCOMPLETE',
  'INVALID_URL',
  'URL_NOT_ALLOWED',
  'URL_FETCH_FAILED',
  'URL_TIMEOUT',
] as const;
export type ImageFaultCode = (typeof IMAGE_FAULT_CODES)[number];

/** An error of one image (see IMAGE_FAULT_CODES); anything else fails the whole request. */
export function isImageFault(error: unknown): error is DomainError & { code: ImageFaultCode } {
  return error instanceof DomainError && (IMAGE_FAULT_CODES as readonly string[]).includes(error.code);
}

/**
 * An image's error as the request reports it: prefixed with where the image is (`images[2]
 * (cat.svg): …`) unless it says so already, its index and field in the details.
 */
export function imageError(error: DomainError, field: string, index: number, filename: string | null): DomainError {
  const place = `${field}[${index}]`;
  const message = error.message.startsWith(place)
    ? error.message
    : `${place}${filename ? ` (${filename})` : ''}: ${error.message}`;
  return new DomainError(error.code, message, { ...error.details, field, index });
}

/** The first error among per-image results (by index) is thrown; otherwise the results, narrowed. */
export function allOrThrow<T>(results: ReadonlyArray<T | DomainError>): T[] {
  const failed = results.find((r) => r instanceof DomainError);
  if (failed) throw failed;
  return results as T[];
}

/**
 * The bytes of each image input, or the image's own error (isImageFault) in its slot; an error of
 * the request (its shape, its byte budget) is thrown.
 */
export async function readEachImageInput(
  images: readonly ImageInput[],
  limits: ImageSourceLimits,
  field = 'images',
): Promise<Array<DecodedImage | DomainError>> {
  if (images.length === 0) throw new InvalidInputError(`${field} is empty: send at least one image.`, { field });
  if (images.length > limits.maxImages) {
    throw new InvalidInputError(
      `${field} has ${images.length} images, over the limit of ${limits.maxImages} per request: split the batch.`,
      { field, max: limits.maxImages },
      'BATCH_TOO_LARGE',
    );
  }
  const alphas = images.map((image, index) => alphaOf(image, field, index));
  const budget = new ByteBudget(limits.maxRequestBytes, field);
  return Promise.all(
    images.map((image, index) =>
      readSource(image, limits, field, index, budget).then(
        ({ bytes, filename, url }): DecodedImage => ({
          bytes,
          filename: cleanFilename(image.filename ?? filename),
          sha256: createHash('sha256').update(bytes).digest('hex'),
          alpha: alphas[index],
          url,
        }),
        (error: unknown) => {
          if (isImageFault(error)) return imageError(error, field, index, cleanFilename(image.filename));
          throw error;
        },
      ),
    ),
  );
}

/** The bytes of each image input; any image's error fails the request (the first by index). */
export async function readImageInputs(
  images: readonly ImageInput[],
  limits: ImageSourceLimits,
  field = 'images',
): Promise<DecodedImage[]> {
  return allOrThrow(await readEachImageInput(images, limits, field));
}
