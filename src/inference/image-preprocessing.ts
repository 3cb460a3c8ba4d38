/**
 * Image bytes → CLIP `pixel_values` (float32, [3, H, W]), as the reference CLIPImageProcessor does:
 * convert to RGB (grey replicated), resize the shortest edge (Pillow bicubic, see resample.ts),
 * centre crop, rescale, normalize per channel.
 * Decoding (JPEG, PNG, WebP, GIF first frame, AVIF, TIFF) and EXIF orientation are sharp's.
 *
 * Transparency: what a person sees is what gets scored. Pillow's convert('RGB') drops alpha, so
 * the colour stored under fully transparent pixels (invisible in any viewer) would decide the
 * verdict. We composite over a background instead (white unless the model folder or the request
 * says otherwise); `'drop'` keeps Pillow's behaviour for reproducing a reference pipeline.
 * Opaque images are untouched, so they keep exact parity with the reference.
 */
import sharp, { type Sharp } from 'sharp';
import { ImageDecodeError, ImageTooLargeError } from '../errors.ts';
import { resizeAndCrop, type Image8, type ResampleFilter } from './resample.ts';

export interface PreprocessorConfig {
  shortestEdge: number;
  cropWidth: number;
  cropHeight: number;
  mean: [number, number, number];
  std: [number, number, number];
  rescaleFactor: number;
  filter: ResampleFilter;
  centerCrop: boolean;
  /** the model's default for transparent images (`background_color` "#rrggbb" or `drop_alpha`) */
  alpha: AlphaHandling;
}

/** How transparent pixels become RGB: composited over a background colour, or alpha dropped (Pillow). */
export type AlphaHandling = { background: readonly [number, number, number] } | 'drop';

export const WHITE_BACKGROUND: AlphaHandling = { background: [255, 255, 255] };

/** `#rrggbb` → a background; undefined when the text is not such a colour. */
export function parseBackgroundColour(text: string): AlphaHandling | undefined {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(text.trim());
  return match ? { background: [parseInt(match[1], 16), parseInt(match[2], 16), parseInt(match[3], 16)] } : undefined;
}

/** A short stable text for an alpha handling (part of the image cache key). */
export function alphaKey(alpha: AlphaHandling): string {
  return alpha === 'drop' ? 'drop' : alpha.background.join(',');
}

const PIL_FILTERS: Record<number, ResampleFilter> = { 2: 'bilinear', 3: 'bicubic' };

/** Reads a Hugging Face `preprocessor_config.json` (CLIPImageProcessor fields). */
export function parsePreprocessorConfig(json: string): PreprocessorConfig {
  const raw = JSON.parse(json) as Record<string, any>;
  const size = raw.size ?? {};
  const shortestEdge = typeof size === 'number' ? size : (size.shortest_edge ?? size.height);
  const crop = raw.crop_size ?? {};
  const cropHeight = typeof crop === 'number' ? crop : (crop.height ?? shortestEdge);
  const cropWidth = typeof crop === 'number' ? crop : (crop.width ?? shortestEdge);
  const filter = PIL_FILTERS[raw.resample ?? 3];
  if (!Number.isInteger(shortestEdge) || shortestEdge <= 0)
    throw new Error('preprocessor_config.json: size.shortest_edge must be a positive integer');
  if (!filter)
    throw new Error(
      `preprocessor_config.json: resample ${raw.resample} is not supported (use 2 bilinear or 3 bicubic)`,
    );
  const alpha =
    raw.drop_alpha === true
      ? 'drop'
      : raw.background_color === undefined
        ? WHITE_BACKGROUND
        : parseBackgroundColour(String(raw.background_color));
  if (!alpha)
    throw new Error(
      `preprocessor_config.json: background_color ${JSON.stringify(raw.background_color)} must be "#rrggbb"`,
    );
  return {
    shortestEdge,
    cropWidth,
    cropHeight,
    mean: raw.image_mean ?? [0.48145466, 0.4578275, 0.40821073],
    std: raw.image_std ?? [0.26862954, 0.26130258, 0.27577711],
    rescaleFactor: raw.rescale_factor ?? 1 / 255,
    filter,
    centerCrop: raw.do_center_crop !== false,
    alpha,
  };
}

/**
 * The pixel count an image's header declares (0 when the bytes are not a readable image: decoding
 * will refuse them with a proper error). Reads the header only, off the event loop (libuv pool).
 */
export async function declaredPixels(bytes: Uint8Array): Promise<number> {
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    return (width ?? 0) * (height ?? 0);
  } catch {
    return 0;
  }
}

type Metadata = Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;

/** Reads the header and refuses what is not a raster image or is over the pixel limit. */
async function inspect(bytes: Uint8Array, maxPixels: number): Promise<Metadata> {
  if (bytes.length === 0)
    throw new ImageDecodeError('The image is empty (0 bytes): send the file contents, base64-encoded.');
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImageDecodeError('The bytes are not a readable image: send a JPEG, PNG, WebP or GIF file.', {
      reason: (error as Error).message,
    });
  }
  if (metadata.format === 'svg' || metadata.format === 'pdf') {
    throw new ImageDecodeError(`${metadata.format.toUpperCase()} is not accepted: rasterize it to PNG first.`, {
      format: metadata.format,
    });
  }
  const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
  if (pixels > maxPixels) {
    throw new ImageTooLargeError(
      `The image has ${metadata.width}x${metadata.height} = ${pixels} pixels, over the limit of ${maxPixels}: ` +
        `downscale it before sending.`,
      { width: metadata.width, height: metadata.height, maxPixels },
    );
  }
  return metadata;
}

/** Runs a sharp pipeline to raw 8-bit pixels; a decoding failure is the caller's bad image. */
async function rawPixels(pipeline: Sharp): Promise<Image8> {
  try {
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return {
      width: info.width,
      height: info.height,
      channels: info.channels,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (error) {
    throw new ImageDecodeError(
      'The image is truncated or corrupt and could not be decoded: re-export the file and try again.',
      { reason: (error as Error).message },
    );
  }
}

/** Decodes bytes to 8-bit RGB, orientation applied; refuses what is not a raster image. */
export async function decodeToRgb(
  bytes: Uint8Array,
  maxPixels: number,
  alpha: AlphaHandling = WHITE_BACKGROUND,
): Promise<Image8> {
  await inspect(bytes, maxPixels);
  return decodeInspected(bytes, maxPixels, alpha);
}

function decodeInspected(bytes: Uint8Array, maxPixels: number, alpha: AlphaHandling): Promise<Image8> {
  return rawPixels(sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate()).then((image) =>
    toRgb(image, alpha),
  );
}

/**
 * To RGB: grey is replicated; alpha (the last channel of 2- and 4-channel images, straight, not
 * premultiplied, as sharp returns it) is composited over the background, or dropped as PIL's
 * convert('RGB') does.
 */
function toRgb(image: Image8, alpha: AlphaHandling): Image8 {
  if (image.channels === 3) return image;
  const pixels = image.width * image.height;
  const rgb = new Uint8Array(pixels * 3);
  const grey = image.channels <= 2;
  const hasAlpha = image.channels === 2 || image.channels === 4;
  const background = alpha === 'drop' || !hasAlpha ? null : alpha.background;
  for (let p = 0; p < pixels; p++) {
    const from = p * image.channels;
    for (let c = 0; c < 3; c++) {
      const value = image.data[grey ? from : from + c];
      if (!background) {
        rgb[p * 3 + c] = value;
      } else {
        const a = image.data[from + image.channels - 1];
        rgb[p * 3 + c] = Math.round((value * a + background[c] * (255 - a)) / 255);
      }
    }
  }
  return { width: image.width, height: image.height, channels: 3, data: rgb };
}

/** The resized size and the centre crop of an image of `width` x `height`, as CLIPImageProcessor computes them. */
function resizePlan(width: number, height: number, config: PreprocessorConfig) {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  // transformers' get_resize_output_image_size: the long edge is truncated, not rounded.
  const resizedLong = Math.trunc((config.shortestEdge * long) / short);
  const outWidth = width <= height ? config.shortestEdge : resizedLong;
  const outHeight = width <= height ? resizedLong : config.shortestEdge;
  const cropWidth = config.centerCrop ? config.cropWidth : outWidth;
  const cropHeight = config.centerCrop ? config.cropHeight : outHeight;
  if (cropWidth > outWidth || cropHeight > outHeight) {
    throw new Error('crop larger than the resized image is not supported: check preprocessor_config.json');
  }
  const crop = {
    left: Math.floor((outWidth - cropWidth) / 2),
    top: Math.floor((outHeight - cropHeight) / 2),
    width: cropWidth,
    height: cropHeight,
  };
  return { outWidth, outHeight, crop };
}

/** Rescale + normalize per channel, RGB interleaved → a [3, H, W] float32 tensor. */
function normalize(cropped: Image8, config: PreprocessorConfig): Float32Array {
  const plane = cropped.width * cropped.height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = config.rescaleFactor / config.std[c];
    const offset = config.mean[c] / config.std[c];
    for (let p = 0; p < plane; p++) out[c * plane + p] = cropped.data[p * 3 + c] * scale - offset;
  }
  return out;
}

/** Resize shortest edge + centre crop + rescale + normalize, to a [3, H, W] float32 tensor. */
export function toPixelValues(image: Image8, config: PreprocessorConfig): Float32Array {
  const { outWidth, outHeight, crop } = resizePlan(image.width, image.height, config);
  return normalize(resizeAndCrop(image, outWidth, outHeight, crop, config.filter), config);
}

/**
 * The fast path (NEGLABEL_PREPROCESSING=fast): libvips does the work — JPEG shrink-on-load, its
 * own resampling, the crop and the alpha handling — instead of the Pillow-exact resampling above.
 * Same geometry, slightly different pixels: `npm run bench` reports the speed and the embedding
 * difference from the exact path. Only for downscaling, where the time goes: libvips upscales
 * with another pixel-centre convention (up to 15 grey levels off on the test images), and an
 * image smaller than the model's input is cheap the exact way. Dropping alpha is for reproducing
 * the reference pipeline, so it takes the exact path too (libvips resizes premultiplied).
 */
export async function fastPixelValues(
  bytes: Uint8Array,
  maxPixels: number,
  alpha: AlphaHandling,
  config: PreprocessorConfig,
): Promise<Float32Array> {
  const metadata = await inspect(bytes, maxPixels);
  // EXIF orientations 5-8 swap the sides once rotated
  const swap = (metadata.orientation ?? 1) >= 5;
  const [width, height] = swap ? [metadata.height!, metadata.width!] : [metadata.width!, metadata.height!];
  if (alpha === 'drop' || Math.min(width, height) <= config.shortestEdge)
    return toPixelValues(await decodeInspected(bytes, maxPixels, alpha), config);
  const { outWidth, outHeight, crop } = resizePlan(width, height, config);
  const [r, g, b] = alpha.background;
  const pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
    .rotate()
    .flatten({ background: { r, g, b } })
    .resize(outWidth, outHeight, { fit: 'fill', kernel: 'cubic' })
    .extract(crop)
    .toColourspace('srgb');
  return normalize(toRgb(await rawPixels(pipeline), alpha), config);
}
