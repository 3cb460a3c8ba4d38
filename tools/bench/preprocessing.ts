/**
 * Benchmark 3b of `npm run bench`: image preprocessing per core, the exact path (sharp decode +
 * Pillow-exact resampling in JS) against the fast one (libvips resampling, JPEG shrink-on-load),
 * one image at a time on this thread, and how far the fast path moves the pixels and the model's
 * embeddings.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  decodeToRgb,
  fastPixelValues,
  parsePreprocessorConfig,
  toPixelValues,
  WHITE_BACKGROUND,
  type PreprocessorConfig,
} from '../../src/inference/image-preprocessing.ts';
import { l2NormalizeRows } from '../../src/inference/vectors.ts';
import type { Row } from './math.ts';

const MAX_PIXELS = 1e8;
const exact = async (bytes: Uint8Array, config: PreprocessorConfig) =>
  toPixelValues(await decodeToRgb(bytes, MAX_PIXELS, WHITE_BACKGROUND), config);
const fast = (bytes: Uint8Array, config: PreprocessorConfig) =>
  fastPixelValues(bytes, MAX_PIXELS, WHITE_BACKGROUND, config);

/** Images per second of `run`, over at least `seconds`. */
async function rate(run: () => Promise<unknown>, seconds: number): Promise<number> {
  await run(); // warm-up
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await run();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

async function embed(session: ort.InferenceSession, pixels: Float32Array, side: number): Promise<Float32Array> {
  const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, side, side]) });
  return l2NormalizeRows(out.image_embeds.data as Float32Array, out.image_embeds.dims[1] as number);
}

/**
 * @param modelDirs model folders: each gives its input size, and its vision model the embedding comparison
 * @param images fixture name → bytes
 */
export async function preprocessingBenchmark(
  modelDirs: string[],
  images: Array<[string, Buffer]>,
  seconds: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const dir of modelDirs) {
    const config = parsePreprocessorConfig(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
    const session = await ort.InferenceSession.create(path.join(dir, 'vision_model.onnx'), { intraOpNumThreads: 1 });
    for (const [name, bytes] of images) {
      const exactRate = await rate(() => exact(bytes, config), seconds);
      const fastRate = await rate(() => fast(bytes, config), seconds);
      const [a, b] = [await exact(bytes, config), await fast(bytes, config)];
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
      const greyLevels = ((sum / a.length) * config.std[1]) / config.rescaleFactor;
      const [ea, eb] = [await embed(session, a, config.cropHeight), await embed(session, b, config.cropHeight)];
      const cosine = ea.reduce((s, v, i) => s + v * eb[i], 0);
      rows.push({
        model: path.basename(dir),
        image: name,
        'exact images/s per core': exactRate.toFixed(0),
        'fast images/s per core': fastRate.toFixed(0),
        'fast vs exact': (fastRate / exactRate).toFixed(2),
        'mean |Δ pixel|, grey levels': greyLevels.toFixed(2),
        'embedding cosine, exact vs fast': cosine.toFixed(5),
      });
    }
    await session.release();
  }
  return rows;
}
