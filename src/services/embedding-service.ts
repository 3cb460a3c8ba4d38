/** Embedding use cases: validated texts and images → normalized vectors, via the shared encoder. */
import { DomainError, InvalidInputError } from '../errors.ts';
import type { EncodedTexts, Encoder, ImageToEncode, ScoredImage, ScoringHead } from '../inference/encoder.ts';
import { declaredPixels } from '../inference/image-preprocessing.ts';
import {
  allOrThrow,
  type DecodedImage,
  type ImageInput,
  type ImageSourceLimits,
  imageError,
  readEachImageInput,
  readImageInputs,
} from './images.ts';

export interface EmbeddingLimits extends ImageSourceLimits {
  maxTexts: number;
  /** per text */
  maxTextChars: number;
  /** per request: all texts' characters, all images' declared pixels */
  maxTextCharsPerRequest: number;
  maxPixelsPerRequest: number;
  /** per image: one over it is refused alone (IMAGE_TOO_LARGE), so it counts as this much here */
  maxImagePixels: number;
}

export class EmbeddingService {
  constructor(
    private readonly encoder: Encoder,
    private readonly limits: EmbeddingLimits,
  ) {}

  async embedTexts(modelId: string | null | undefined, texts: readonly string[]): Promise<EncodedTexts> {
    const model = this.encoder.resolveModel(modelId);
    if (texts.length === 0) throw new InvalidInputError('texts is empty: send at least one text.', { field: 'texts' });
    if (texts.length > this.limits.maxTexts) {
      throw new InvalidInputError(
        `texts has ${texts.length} entries, over the limit of ${this.limits.maxTexts} per request: split the batch.`,
        { max: this.limits.maxTexts },
        'BATCH_TOO_LARGE',
      );
    }
    // CLIP reads 77 tokens; a text far longer is a mistake or an attack on the tokenizer and caches
    const tooLong = texts.findIndex((t) => t.length > this.limits.maxTextChars);
    if (tooLong >= 0) {
      throw new InvalidInputError(
        `texts[${tooLong}] has ${texts[tooLong].length} characters, over the limit of ${this.limits.maxTextChars}: ` +
          `the model reads only the first 77 tokens, so send short texts.`,
        { field: 'texts', index: tooLong, max: this.limits.maxTextChars },
        'TEXT_TOO_LONG',
      );
    }
    const total = texts.reduce((sum, t) => sum + t.length, 0);
    if (total > this.limits.maxTextCharsPerRequest) {
      throw new InvalidInputError(
        `texts have ${total} characters together, over the budget of ${this.limits.maxTextCharsPerRequest} per ` +
          `request: split the batch.`,
        { field: 'texts', max: this.limits.maxTextCharsPerRequest },
        'REQUEST_BUDGET_EXCEEDED',
      );
    }
    return this.encoder.embedTexts(model.id, [...texts]);
  }

  /**
   * Decodes and embeds images; any bad image fails the whole request, naming its index. `cacheScope`
   * (imageCacheScope: the caller's key) is whose earlier images may answer from the cache.
   */
  async embedImageInputs(
    modelId: string | null | undefined,
    images: readonly ImageInput[],
    cacheScope: string,
    field = 'images',
  ): Promise<{ model: string; images: DecodedImage[]; embeddings: Float32Array[] }> {
    const model = this.encoder.resolveModel(modelId);
    return this.embedDecoded(model.id, await this.readImages(images, field), cacheScope, field);
  }

  /** The bytes of each image input, within the request's byte budget (nothing is decoded yet). */
  readImages(images: readonly ImageInput[], field = 'images'): Promise<DecodedImage[]> {
    return readImageInputs(images, this.limits, field);
  }

  /** readImages, with an image's own error (isImageFault) in its slot instead of failing the request. */
  readEachImage(images: readonly ImageInput[], field = 'images'): Promise<Array<DecodedImage | DomainError>> {
    return readEachImageInput(images, this.limits, field);
  }

  /** Embeds images already read (readImages) with a model. */
  async embedDecoded(
    modelId: string,
    decoded: DecodedImage[],
    cacheScope: string,
    field = 'images',
  ): Promise<{ model: string; images: DecodedImage[]; embeddings: Float32Array[] }> {
    const model = this.encoder.resolveModel(modelId);
    const embeddings = allOrThrow(
      await this.encode(decoded, cacheScope, field, (images) => this.encoder.embedImages(model.id, images)),
    );
    return { model: model.id, images: decoded, embeddings };
  }

  /**
   * Embeds images already read and scores each against a loaded head, in one pass through the
   * encoder; an image that fails has its error in its slot, named by its index in `indexes` (the
   * request's, when only some of its images were read).
   */
  embedAndScore(
    modelId: string,
    decoded: DecodedImage[],
    cacheScope: string,
    head: ScoringHead,
    field = 'images',
    indexes: readonly number[] = decoded.map((_, i) => i),
  ): Promise<Array<ScoredImage | DomainError>> {
    const model = this.encoder.resolveModel(modelId);
    return this.encode(
      decoded,
      cacheScope,
      field,
      (images) => this.encoder.embedAndScore(model.id, images, head),
      indexes,
    );
  }

  /**
   * Bounds the request's pixels before any decoding, then encodes; a failed image's error names
   * its index (in `indexes`) and file.
   */
  private async encode<T>(
    decoded: DecodedImage[],
    cacheScope: string,
    field: string,
    run: (images: ImageToEncode[]) => Promise<Array<T | DomainError>>,
    indexes: readonly number[] = decoded.map((_, i) => i),
  ): Promise<Array<T | DomainError>> {
    // the decode cost is in the pixels, not the bytes: bound the whole request before any decoding.
    // Each image counts at most maxImagePixels, so headers are read only when these many images
    // could exceed the budget (otherwise reading them costs the request thread for nothing).
    const couldExceed = decoded.length * this.limits.maxImagePixels > this.limits.maxPixelsPerRequest;
    const declared = couldExceed ? await Promise.all(decoded.map((d) => declaredPixels(d.bytes))) : [];
    const pixels = declared.reduce((sum, p) => sum + Math.min(p, this.limits.maxImagePixels), 0);
    if (pixels > this.limits.maxPixelsPerRequest) {
      throw new InvalidInputError(
        `${field} declare ${pixels} pixels together, over the budget of ${this.limits.maxPixelsPerRequest} per ` +
          `request: send fewer or smaller images per request.`,
        { field, pixels, max: this.limits.maxPixelsPerRequest },
        'REQUEST_BUDGET_EXCEEDED',
      );
    }
    const results = await run(decoded.map(({ bytes, sha256, alpha }) => ({ bytes, sha256, alpha, cacheScope })));
    return results.map((result, i) =>
      result instanceof DomainError ? imageError(result, field, indexes[i], decoded[i].filename) : result,
    );
  }
}

/**
 * The image-cache scope of a caller: its API key (the anonymous caller of open mode is one
 * scope). Keys are the unit of trust the service knows; two keys never share cached images.
 */
export function imageCacheScope(keyId: string | null): string {
  return keyId === null ? 'open' : `key:${keyId}`;
}
