/**
 * The ways one emoji reaches the service in real use: a transparent PNG, the same flattened on
 * white, grey or a colour card, a white-background JPEG, a small icon, an icon with wide margins.
 * The benchmark scores every split under each, so that robustness is measured, not assumed.
 */
import sharp from 'sharp';
import { mulberry32 } from '../../src/neglabel/random.ts';
import { renderIcon, type EmojiConcept, type Style } from '../emoji/emoji-data.ts';

export interface Rendering {
  name: string;
  /** the image file bytes for a concept (index: the concept's position, seeds per-image choices) */
  render(style: Style, concept: EmojiConcept, index: number): Promise<Buffer>;
}

const SIZE = 128;
const flatten = (png: Buffer, background: string) => sharp(png).flatten({ background });

/** A seeded solid colour per concept, away from pure black and white. */
function cardColour(index: number): string {
  const random = mulberry32(1000 + index);
  const channel = () =>
    Math.round(40 + random() * 175)
      .toString(16)
      .padStart(2, '0');
  return `#${channel()}${channel()}${channel()}`;
}

export const RENDERINGS: Rendering[] = [
  { name: 'transparent PNG', render: (s, c) => renderIcon(s, c, SIZE) },
  {
    name: 'on white',
    render: async (s, c) =>
      flatten(await renderIcon(s, c, SIZE), '#ffffff')
        .png()
        .toBuffer(),
  },
  {
    name: 'on mid-grey',
    render: async (s, c) =>
      flatten(await renderIcon(s, c, SIZE), '#808080')
        .png()
        .toBuffer(),
  },
  {
    name: 'on a colour',
    render: async (s, c, i) =>
      flatten(await renderIcon(s, c, SIZE), cardColour(i))
        .png()
        .toBuffer(),
  },
  {
    name: 'white JPEG q75',
    render: async (s, c) =>
      flatten(await renderIcon(s, c, SIZE), '#ffffff')
        .jpeg({ quality: 75 })
        .toBuffer(),
  },
  { name: 'small (32 px)', render: (s, c) => renderIcon(s, c, 32) },
  {
    name: 'wide margins',
    render: async (s, c) => {
      const margin = (SIZE - 48) / 2;
      const icon = await flatten(await renderIcon(s, c, 48), '#ffffff')
        .png()
        .toBuffer();
      return sharp(icon)
        .extend({ top: margin, bottom: margin, left: margin, right: margin, background: '#ffffff' })
        .png()
        .toBuffer();
    },
  },
];
