/**
 * Writes test/fixtures/held-out-emoji/: the held-out style's drawings that the default model's
 * end-to-end test scores (every animal, and every 60th other concept), as PNG files with a
 * manifest. The test reads these files instead of rendering them with this tool (tests do not
 * import tools). Run again after the concept list or the renderer changes:
 * `node --import tsx tools/emoji/write-held-out-fixtures.ts`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HELD_OUT_STYLE, loadConcepts, renderIcon, STYLE_LICENCES } from './emoji-data.ts';

const SIZE = 128;
/** https://github.com/microsoft/fluentui-emoji/blob/main/LICENSE */
const MIT_LICENCE = `MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;
const folder = path.resolve(import.meta.dirname, '../../test/fixtures/held-out-emoji');
const concepts = loadConcepts();
const animals = concepts.filter((c) => c.subgroup.startsWith('animal-'));
const others = concepts.filter((c) => c.group !== 'animals-nature').filter((_, i) => i % 60 === 0);

rmSync(folder, { recursive: true, force: true });
mkdirSync(folder, { recursive: true });
const manifest = [];
for (const [set, list] of [
  ['animal', animals],
  ['other', others],
] as const) {
  for (const concept of list) {
    const file = `${concept.hexcode.toLowerCase()}.png`;
    writeFileSync(path.join(folder, file), await renderIcon(HELD_OUT_STYLE, concept, SIZE));
    manifest.push({ set, label: concept.label, file });
  }
}
writeFileSync(path.join(folder, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
writeFileSync(
  path.join(folder, 'LICENCE.md'),
  `Drawings from ${STYLE_LICENCES[HELD_OUT_STYLE]} (the held-out style, never used in training), rendered at ` +
    `${SIZE} px by tools/emoji/write-held-out-fixtures.ts from the @iconify-json/fluent-emoji-flat package.\n\n` +
    `${MIT_LICENCE}`,
);
console.log(`wrote ${manifest.length} drawings to ${folder}`);
