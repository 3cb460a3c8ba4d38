import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeToRgb, parsePreprocessorConfig, toPixelValues } from '../../../src/inference/image-preprocessing.ts';
import { FIXTURE_MODEL_DIR, fixtureImage, reference } from '../../helpers/fixtures.ts';

const config = parsePreprocessorConfig(readFileSync(path.join(FIXTURE_MODEL_DIR, 'preprocessor_config.json'), 'utf8'));

test(
  'pixel values reproduce the reference CLIPImageProcessor for every fixture image (alpha dropped as Pillow ' + 'does)',
  async (t) => {
    const report: string[] = [];
    for (const image of reference.images) {
      const pixels = toPixelValues(await decodeToRgb(fixtureImage(image.file), 1e8, 'drop'), config);
      assert.equal(pixels.length, 3 * 224 * 224);
      let sum = 0;
      for (const v of pixels) sum += v;
      const meanDiff = Math.abs(sum / pixels.length - image.pixel_mean);
      let absDiff = 0;
      image.pixel_values_sample.forEach((v, i) => {
        absDiff += Math.abs(pixels[i * 997] - v);
      });
      const mad = absDiff / image.pixel_values_sample.length;
      report.push(
        `${image.file}: sample mean |diff| ${mad.toExponential(2)}, tensor mean diff ${meanDiff.toExponential(2)}`,
      );
      // Pillow-exact resampling: resized images match as closely as unresized ones (float rounding only).
      assert.ok(mad < 1e-5, `${image.file}: mean absolute pixel difference ${mad}`);
      assert.ok(meanDiff < 1e-5, `${image.file}: tensor mean differs by ${meanDiff} (alpha or grey handling)`);
    }
    for (const line of report) t.diagnostic(line);
  },
);

test('opaque images decode the same whatever the alpha handling; RGBA is composited over the background', async () => {
  const opaque = fixtureImage('images/rgb224.png');
  const [white, dropped] = await Promise.all([decodeToRgb(opaque, 1e8), decodeToRgb(opaque, 1e8, 'drop')]);
  assert.deepEqual(white.data, dropped.data);
  // one half-transparent red pixel, one fully transparent pixel hiding green
  const rgba = await sharp(Buffer.from([255, 0, 0, 128, 0, 255, 0, 0]), { raw: { width: 2, height: 1, channels: 4 } })
    .png()
    .toBuffer();
  assert.deepEqual([...(await decodeToRgb(rgba, 1e8)).data], [255, 127, 127, 255, 255, 255]);
  assert.deepEqual([...(await decodeToRgb(rgba, 1e8, { background: [0, 0, 0] })).data], [128, 0, 0, 0, 0, 0]);
  assert.deepEqual([...(await decodeToRgb(rgba, 1e8, 'drop')).data], [255, 0, 0, 0, 255, 0]);
  // grey + alpha composites too
  const greyAlpha = await sharp(Buffer.from([0, 0]), { raw: { width: 1, height: 1, channels: 2 } })
    .png()
    .toBuffer();
  assert.deepEqual([...(await decodeToRgb(greyAlpha, 1e8)).data], [255, 255, 255]);
});

test('a model folder may set its background colour or keep Pillow alpha dropping', () => {
  const base = readFileSync(path.join(FIXTURE_MODEL_DIR, 'preprocessor_config.json'), 'utf8');
  const withKeys = (extra: object) => JSON.stringify({ ...JSON.parse(base), ...extra });
  assert.deepEqual(config.alpha, { background: [255, 255, 255] });
  assert.deepEqual(parsePreprocessorConfig(withKeys({ background_color: '#808080' })).alpha, {
    background: [128, 128, 128],
  });
  assert.equal(parsePreprocessorConfig(withKeys({ drop_alpha: true })).alpha, 'drop');
  assert.throws(() => parsePreprocessorConfig(withKeys({ background_color: 'grey' })), /#rrggbb/);
});

test('EXIF orientation is applied before resizing', async () => {
  const upright = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 10, b: 10 } } })
    .png()
    .toBuffer();
  // Orientation 6 = rotate 90° clockwise on display: a 40x20 image is shown 20x40.
  const tagged = await sharp(upright).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const decoded = await decodeToRgb(tagged, 1e8);
  assert.equal(decoded.width, 20);
  assert.equal(decoded.height, 40);
});

test('GIF and WebP decode; SVG, empty, garbage, truncated and oversized images are refused with codes', async () => {
  const base = sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 1, g: 2, b: 3 } } });
  for (const format of ['gif', 'webp'] as const) {
    const bytes = await base.clone().toFormat(format).toBuffer();
    assert.equal((await decodeToRgb(bytes, 1e8)).width, 16);
  }
  const svg = Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
  );
  await assert.rejects(decodeToRgb(svg, 1e8), { code: 'INVALID_IMAGE' });
  await assert.rejects(decodeToRgb(new Uint8Array(0), 1e8), { code: 'INVALID_IMAGE' });
  await assert.rejects(decodeToRgb(Buffer.from('not an image at all'), 1e8), { code: 'INVALID_IMAGE' });
  const jpeg = fixtureImage('images/rgb640x480.jpg');
  await assert.rejects(decodeToRgb(jpeg.subarray(0, jpeg.length / 2), 1e8), { code: 'INVALID_IMAGE' });
  await assert.rejects(decodeToRgb(jpeg, 640 * 480 - 1), { code: 'IMAGE_TOO_LARGE' });
});
