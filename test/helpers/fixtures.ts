/** Paths and parsed reference data of the test fixtures (copied from ../shared/fixtures). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const FIXTURE_MODEL_DIR = fileURLToPath(new URL('../fixtures/clip-tiny-random/', import.meta.url));

export interface ReferenceText {
  text: string;
  ids: number[];
  text_embeds: number[];
}
export interface ReferenceImage {
  file: string;
  pixel_mean: number;
  pixel_std: number;
  pixel_values_sample: number[];
  image_embeds: number[];
}
export interface Reference {
  texts: ReferenceText[];
  images: ReferenceImage[];
}

export const reference: Reference = JSON.parse(readFileSync(path.join(FIXTURE_MODEL_DIR, 'reference.json'), 'utf8'));

export function fixtureImage(file: string): Buffer {
  return readFileSync(path.join(FIXTURE_MODEL_DIR, file));
}

export function l2normalize(values: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  const norm = Math.sqrt(sum);
  return Array.from(values, (v) => v / norm);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
