/**
 * The fast path (libvips resampling) against the exact one (Pillow-exact, itself checked against
 * transformers' reference outputs in image-preprocessing.test.ts): same tensor geometry, pixel
 * values close, and the same handling of orientation and transparency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import {
  decodeToRgb,
  fastPixelValues,
  parsePreprocessorConfig,
  toPixelValues,
  WHITE_BACKGROUND,
  type AlphaHandling,
} from '../../../src/inference/image-preprocessing.ts';
import { FIXTURE_MODEL_DIR, fixtureImage } from '../../helpers/fixtures.ts';

const config = parsePreprocessorConfig(readFileSync(path.join(FIXTURE_MODEL_DIR, 'preprocessor_config.json'), 'utf8'));
const MAX_PIXELS = 1e8;

async function both(bytes: Uint8Array, alpha: AlphaHandling = WHITE_BACKGROUND) {
  return {
    exact: toPixelValues(await decodeToRgb(bytes, MAX_PIXELS, alpha), config),
    fast: await fastPixelValues(bytes, MAX_PIXELS, alpha, config),
  };
}

/** Mean absolute difference, in units of 8-bit grey levels (normalised values are / std / 255). */
function meanGreyLevels(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return ((sum / a.length) * config.std[1]) / config.rescaleFactor;
}

test("fast preprocessing keeps the exact path's geometry and stays within a grey level of it", async () => {
  for (const file of [
    'rgb224.png',
    'rgb640x480.jpg',
    'rgb300x200.png',
    'rgb200x300.jpg',
    'wide1000x100.png',
    'gray256.png',
    'rgba240.png',
    'tiny8.png',
  ]) {
    const { exact, fast } = await both(fixtureImage(`images/${file}`));
    assert.equal(fast.length, exact.length, file);
    const diff = meanGreyLevels(exact, fast);
    assert.ok(diff < 1, `${file}: mean difference ${diff.toFixed(2)} grey levels`);
  }
});

test('fast preprocessing applies EXIF orientation and the alpha handling like the exact path', async () => {
  const upright = fixtureImage('images/rgb640x480.jpg'); // larger than the input: the fast path proper
  // the same picture stored rotated, with an orientation tag that turns it back
  const rotated = await sharp(upright).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 95 }).toBuffer();
  const a = await both(upright);
  const b = await both(rotated);
  assert.ok(meanGreyLevels(b.fast, b.exact) < 1, 'both paths turn the stored image upright');
  // re-encoding costs a few grey levels; a sideways result would be tens off
  assert.ok(meanGreyLevels(a.fast, b.fast) < 4, 'upright, like the original');
  const transparent = fixtureImage('images/rgba240.png');
  const onWhite = await both(transparent, WHITE_BACKGROUND);
  const onBlack = await both(transparent, { background: [0, 0, 0] });
  assert.ok(meanGreyLevels(onWhite.fast, onWhite.exact) < 1 && meanGreyLevels(onBlack.fast, onBlack.exact) < 1);
  assert.ok(meanGreyLevels(onWhite.fast, onBlack.fast) > 10, 'the background matters as it does on the exact path');
  const dropped = await both(transparent, 'drop');
  assert.ok(meanGreyLevels(dropped.fast, dropped.exact) < 1);
});
