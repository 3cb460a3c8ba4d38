/**
 * Pillow-compatible resampling of 8-bit interleaved images.
 *
 * CLIP's reference preprocessing resizes with Pillow (`Image.resize`, bicubic, antialiased when
 * shrinking). Other libraries' kernels differ by a few grey levels, and on the noisy test images
 * that moves embeddings a lot, so this reproduces Pillow's algorithm: separable convolution,
 * support scaled by the shrink factor, coefficients in 22-bit fixed point, horizontal pass first,
 * intermediate rows rounded to 8 bits.
 */

export type ResampleFilter = 'bicubic' | 'bilinear';

const FILTERS: Record<ResampleFilter, { support: number; weight: (x: number) => number }> = {
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  bilinear: { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
};

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  /** first input index of each output index */
  start: Int32Array;
  /** number of taps of each output index */
  count: Int32Array;
  /** fixed-point taps, `taps` per output index */
  weights: Int32Array;
  taps: number;
}

/** Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`. */
function coefficients(inSize: number, outSize: number, filter: ResampleFilter): Coefficients {
  const { support: baseSupport, weight } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = baseSupport * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    const inverse = 1 / filterScale;
    // C casts truncate toward zero; the clamp makes that equal to floor here.
    const min = Math.max(Math.trunc(center - support + 0.5), 0);
    const max = Math.min(Math.trunc(center + support + 0.5), inSize) - min;
    let sum = 0;
    for (let x = 0; x < max; x++) {
      const w = weight((x + min - center + 0.5) * inverse);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < max; x++) {
      const normalized = sum !== 0 ? k[x] / sum : k[x];
      weights[out * taps + x] =
        normalized < 0
          ? Math.trunc(normalized * (1 << PRECISION_BITS) - 0.5)
          : Math.trunc(normalized * (1 << PRECISION_BITS) + 0.5);
    }
    start[out] = min;
    count[out] = max;
  }
  return { start, count, weights, taps };
}

function clip8(value: number): number {
  const shifted = value >> PRECISION_BITS;
  return shifted < 0 ? 0 : Math.min(shifted, 255);
}

export interface Image8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/**
 * The window [left, left+cropWidth) x [top, top+cropHeight) of the image resized to
 * outWidth x outHeight; only that window is computed, with the same values a full resize has.
 */
export function resizeAndCrop(
  image: Image8,
  outWidth: number,
  outHeight: number,
  crop: { left: number; top: number; width: number; height: number },
  filter: ResampleFilter,
): Image8 {
  const { channels } = image;
  let source = image;
  let rowOffset = 0;
  if (outWidth !== image.width) {
    const h = coefficients(image.width, outWidth, filter);
    // Only the input rows that the vertical pass reads for the cropped rows are needed.
    let firstRow = 0;
    let lastRow = image.height;
    if (outHeight !== image.height) {
      const v = coefficients(image.height, outHeight, filter);
      firstRow = v.start[crop.top];
      const lastOut = crop.top + crop.height - 1;
      lastRow = v.start[lastOut] + v.count[lastOut];
    } else {
      firstRow = crop.top;
      lastRow = crop.top + crop.height;
    }
    const rows = lastRow - firstRow;
    const out = new Uint8Array(crop.width * rows * channels);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + firstRow) * image.width * channels;
      for (let xo = 0; xo < crop.width; xo++) {
        const x = xo + crop.left;
        const start = h.start[x];
        const n = h.count[x];
        const base = x * h.taps;
        for (let c = 0; c < channels; c++) {
          let sum = 1 << (PRECISION_BITS - 1);
          for (let t = 0; t < n; t++) sum += image.data[inRow + (start + t) * channels + c] * h.weights[base + t];
          out[(y * crop.width + xo) * channels + c] = clip8(sum);
        }
      }
    }
    source = { width: crop.width, height: rows, channels, data: out };
    rowOffset = firstRow;
  } else if (crop.left !== 0 || crop.width !== image.width) {
    const out = new Uint8Array(crop.width * image.height * channels);
    for (let y = 0; y < image.height; y++) {
      const from = (y * image.width + crop.left) * channels;
      out.set(image.data.subarray(from, from + crop.width * channels), y * crop.width * channels);
    }
    source = { width: crop.width, height: image.height, channels, data: out };
  }

  const out = new Uint8Array(crop.width * crop.height * channels);
  if (outHeight !== image.height) {
    const v = coefficients(image.height, outHeight, filter);
    const stride = source.width * channels;
    for (let yo = 0; yo < crop.height; yo++) {
      const y = yo + crop.top;
      const start = v.start[y] - rowOffset;
      const n = v.count[y];
      const base = y * v.taps;
      for (let i = 0; i < stride; i++) {
        let sum = 1 << (PRECISION_BITS - 1);
        for (let t = 0; t < n; t++) sum += source.data[(start + t) * stride + i] * v.weights[base + t];
        out[yo * stride + i] = clip8(sum);
      }
    }
  } else {
    const stride = source.width * channels;
    out.set(source.data.subarray((crop.top - rowOffset) * stride, (crop.top - rowOffset + crop.height) * stride));
  }
  return { width: crop.width, height: crop.height, channels, data: out };
}
