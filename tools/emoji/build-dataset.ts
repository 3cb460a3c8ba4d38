/**
 * Writes the emoji training data for tools/train/train_emoji_clip.py into tools/.cache/emoji-dataset:
 * concepts.json, and per style an RGB uint8 array [N, 80, 80, 3] decoded by the service's own
 * image path (so training sees what serving sees: alpha dropped, not composited).
 * Run: node --import tsx tools/emoji/build-dataset.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeToRgb } from '../../src/inference/image-preprocessing.ts';
import { loadConcepts, renderIcon, STYLES } from './emoji-data.ts';

const SIZE = 80;
const out = path.resolve('tools/.cache/emoji-dataset');
mkdirSync(out, { recursive: true });
const concepts = loadConcepts();
writeFileSync(path.join(out, 'concepts.json'), JSON.stringify(concepts.map(({ icons, ...c }) => c)));
for (const style of STYLES) {
  const pixels = new Uint8Array(concepts.length * SIZE * SIZE * 3);
  for (const [i, concept] of concepts.entries()) {
    const rgb = await decodeToRgb(await renderIcon(style, concept.icons[style], SIZE), 1e6);
    pixels.set(rgb.data, i * SIZE * SIZE * 3);
  }
  writeFileSync(path.join(out, `images-${style}.u8`), pixels);
  console.log(JSON.stringify({ style, images: concepts.length, size: SIZE }));
}
