/**
 * Writes the emoji training data for tools/train/train_emoji_clip.py into tools/.cache/emoji-dataset:
 * concepts.json (with, per training style, whether the style draws the concept) and per training
 * style an RGBA uint8 array [N, 80, 80, 4] with straight (not premultiplied) alpha, so that training
 * can composite each icon over any background. Concepts a style does not draw are all-zero.
 * The held-out style is not written here: training cannot read it.
 * Run: node --import tsx tools/emoji/build-dataset.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadConcepts, renderIcon, TRAIN_STYLES } from './emoji-data.ts';

const SIZE = 80;
const out = path.resolve('tools/.cache/emoji-dataset');
mkdirSync(out, { recursive: true });
const concepts = loadConcepts();
const styles: Record<string, boolean[]> = {};
for (const style of TRAIN_STYLES) {
  const pixels = new Uint8Array(concepts.length * SIZE * SIZE * 4);
  styles[style] = concepts.map((c) => Boolean(c.icons[style]));
  for (const [i, concept] of concepts.entries()) {
    if (!concept.icons[style]) continue;
    const rgba = await sharp(await renderIcon(style, concept, SIZE))
      .ensureAlpha()
      .raw()
      .toBuffer();
    pixels.set(rgba, i * SIZE * SIZE * 4);
  }
  writeFileSync(path.join(out, `images-${style}.u8`), pixels);
  console.log(JSON.stringify({ style, images: styles[style].filter(Boolean).length, size: SIZE }));
}
const list = concepts.map(({ icons, ...c }) => ({ ...c, styles: TRAIN_STYLES.filter((s) => icons[s]) }));
writeFileSync(path.join(out, 'concepts.json'), JSON.stringify(list));
