/**
 * Emoji artwork as labelled image data: three styles of the same concepts (Iconify JSON sets on
 * npm), named and grouped by emojibase. Used to train the default model (tools/train) and by the
 * OOD benchmark (npm run eval). Licences: Twemoji CC-BY-4.0, Fluent Emoji MIT, Noto Emoji
 * Apache-2.0, emojibase MIT.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import sharp from 'sharp';

export const STYLES = ['twemoji', 'noto', 'fluent-emoji-flat'] as const;
export type Style = (typeof STYLES)[number];
/** The style no model training ever sees: the benchmark's domain shift. */
export const HELD_OUT_STYLE: Style = 'fluent-emoji-flat';

export interface EmojiConcept {
  hexcode: string;
  /** emojibase's English name, e.g. "dog face" */
  label: string;
  tags: string[];
  group: string;
  subgroup: string;
  /** icon name in each style */
  icons: Record<Style, string>;
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

const normalizeHex = (hex: string) => hex.toLowerCase().split('-').filter((cp) => cp !== 'fe0f').join('-');

/** Concepts drawn in all three styles, without skin-tone components and flags (one style only). */
export function loadConcepts(): EmojiConcept[] {
  const data: Array<{ label: string; hexcode: string; tags?: string[]; group?: number; subgroup?: number }> = readJson('emojibase-data/en/data.json');
  const meta: { groups: Record<string, string>; subgroups: Record<string, string> } = readJson('emojibase-data/meta/groups.json');
  const byHex = STYLES.map((s) => {
    const map = new Map<string, string>();
    for (const [hex, name] of Object.entries(style(s).chars)) map.set(normalizeHex(hex), name);
    return map;
  });
  const concepts: EmojiConcept[] = [];
  for (const entry of data) {
    const group = meta.groups[String(entry.group)];
    if (!group || group === 'component' || group === 'flags') continue;
    const names = byHex.map((m) => m.get(normalizeHex(entry.hexcode)));
    if (names.some((n) => !n)) continue;
    concepts.push({
      hexcode: entry.hexcode,
      label: entry.label.toLowerCase(),
      tags: entry.tags ?? [],
      group,
      subgroup: meta.subgroups[String(entry.subgroup)] ?? '',
      icons: Object.fromEntries(STYLES.map((s, i) => [s, names[i]!])) as Record<Style, string>,
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
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${icon.left ?? 0} ${icon.top ?? 0} ${width} ${height}" width="${size}" height="${size}">${icon.body}</svg>`;
}

/** The icon rasterized to a PNG (RGBA) of size x size pixels. */
export function renderIcon(styleName: Style, iconName: string, size: number): Promise<Buffer> {
  return sharp(Buffer.from(iconSvg(styleName, iconName, size)), { density: 72 }).resize(size, size).png().toBuffer();
}
