/**
 * Emoji artwork as labelled image data: several styles of the same concepts (Iconify JSON sets on
 * npm), named and grouped by emojibase. Used to train the default model (tools/train) and by the
 * OOD benchmark (npm run eval). Licences are listed in STYLE_LICENCES; share-alike sets (OpenMoji,
 * Emoji One v1) are not used, and no Fluent set is ever used for training while Fluent Emoji Flat
 * is the held-out style.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import sharp from 'sharp';

/** Styles a model may be trained on. Twemoji and Noto draw every concept; the others some. */
export const TRAIN_STYLES = ['twemoji', 'noto', 'noto-v1', 'emojione', 'fxemoji', 'streamline-emojis'] as const;
/** The style no model training, selection or early stopping ever reads: the benchmark's domain shift. */
export const HELD_OUT_STYLE = 'fluent-emoji-flat' as const;
export type Style = (typeof TRAIN_STYLES)[number] | typeof HELD_OUT_STYLE;
/** The styles every concept must be drawn in (so that the concept list stays 1,586 names). */
const REQUIRED_STYLES: Style[] = ['twemoji', 'noto', HELD_OUT_STYLE];

export const STYLE_LICENCES: Record<Style, string> = {
  twemoji: 'Twemoji © Twitter/X, CC-BY-4.0',
  noto: 'Noto Emoji © Google, Apache-2.0',
  'noto-v1': 'Noto Emoji v1 © Google, Apache-2.0',
  emojione: 'Emoji One © Ranks.com, CC-BY-4.0',
  fxemoji: 'Firefox OS Emoji © Mozilla, Apache-2.0',
  'streamline-emojis': 'Streamline Emojis © Streamline, CC-BY-4.0',
  'fluent-emoji-flat': 'Fluent Emoji Flat © Microsoft, MIT',
};

export interface EmojiConcept {
  hexcode: string;
  /** emojibase's English name, e.g. "dog face" */
  label: string;
  tags: string[];
  group: string;
  subgroup: string;
  /** icon name in each style that draws the concept */
  icons: Partial<Record<Style, string>>;
}

interface IconSet {
  icons: Record<string, { body: string; width?: number; height?: number; left?: number; top?: number }>;
  aliases?: Record<string, { parent: string }>;
  width?: number;
  height?: number;
}

const require = createRequire(import.meta.url);
const readJson = (id: string) => JSON.parse(readFileSync(require.resolve(id), 'utf8'));
const sets = new Map<Style, { icons: IconSet; chars: Record<string, string> }>();

function style(name: Style) {
  let set = sets.get(name);
  if (!set) {
    set = { icons: readJson(`@iconify-json/${name}/icons.json`), chars: readJson(`@iconify-json/${name}/chars.json`) };
    sets.set(name, set);
  }
  return set;
}

/** Some sets ship no code-point table: find their icons by the Noto or Twemoji name instead. */
function iconsByName(name: Style): Map<string, string> {
  const { icons, aliases } = style(name).icons;
  const byName = new Map<string, string>();
  for (const key of [...Object.keys(icons), ...Object.keys(aliases ?? {})]) {
    byName.set(key, key);
    byName.set(key.replace(/-/g, ''), key);
  }
  return byName;
}

const normalizeHex = (hex: string) =>
  hex
    .toLowerCase()
    .split('-')
    .filter((cp) => cp !== 'fe0f')
    .join('-');

/** Concepts drawn in Twemoji, Noto and the held-out style, without skin-tone components and flags. */
export function loadConcepts(): EmojiConcept[] {
  const data: Array<{ label: string; hexcode: string; tags?: string[]; group?: number; subgroup?: number }> =
    readJson('emojibase-data/en/data.json');
  const meta: { groups: Record<string, string>; subgroups: Record<string, string> } = readJson(
    'emojibase-data/meta/groups.json',
  );
  const allStyles: Style[] = [...TRAIN_STYLES, HELD_OUT_STYLE];
  const byHex = new Map<Style, Map<string, string>>();
  for (const s of allStyles) {
    const map = new Map<string, string>();
    for (const [hex, name] of Object.entries(style(s).chars)) map.set(normalizeHex(hex), name);
    byHex.set(s, map);
  }
  for (const s of allStyles) {
    if (byHex.get(s)!.size > 0) continue;
    const byName = iconsByName(s);
    const map = byHex.get(s)!;
    for (const reference of ['noto', 'twemoji'] as const) {
      for (const [hex, name] of byHex.get(reference)!) {
        const found = byName.get(name) ?? byName.get(name.replace(/-/g, ''));
        if (found && !map.has(hex)) map.set(hex, found);
      }
    }
  }
  const concepts: EmojiConcept[] = [];
  for (const entry of data) {
    const group = meta.groups[String(entry.group)];
    if (!group || group === 'component' || group === 'flags') continue;
    const hex = normalizeHex(entry.hexcode);
    if (REQUIRED_STYLES.some((s) => !byHex.get(s)!.has(hex))) continue;
    const icons: Partial<Record<Style, string>> = {};
    for (const s of allStyles) {
      const name = byHex.get(s)!.get(hex);
      if (name) icons[s] = name;
    }
    concepts.push({
      hexcode: entry.hexcode,
      label: entry.label.toLowerCase(),
      tags: entry.tags ?? [],
      group,
      subgroup: meta.subgroups[String(entry.subgroup)] ?? '',
      icons,
    });
  }
  return concepts;
}

/** The icon as a standalone SVG document of the given pixel size. */
export function iconSvg(styleName: Style, iconName: string, size: number): string {
  const set = style(styleName).icons;
  let name = iconName;
  for (let hops = 0; !set.icons[name] && set.aliases?.[name] && hops < 5; hops++) name = set.aliases[name].parent;
  const icon = set.icons[name];
  if (!icon) throw new Error(`${styleName} has no icon ${iconName}`);
  const width = icon.width ?? set.width ?? 16;
  const height = icon.height ?? set.height ?? 16;
  const viewBox = `${icon.left ?? 0} ${icon.top ?? 0} ${width} ${height}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${viewBox}" width="${size}" ` +
    `height="${size}">${icon.body}</svg>`
  );
}

/** The concept's icon in a style rasterized to a PNG (RGBA, transparent background) of size x size pixels. */
export function renderIcon(styleName: Style, concept: EmojiConcept, size: number): Promise<Buffer> {
  const iconName = concept.icons[styleName];
  if (!iconName) throw new Error(`${styleName} does not draw ${concept.label}`);
  return sharp(Buffer.from(iconSvg(styleName, iconName, size)), { density: 72 })
    .resize(size, size)
    .png()
    .toBuffer();
}
