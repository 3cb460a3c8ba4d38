/**
 * A model is a folder in the common CLIP ONNX export layout. This module finds model folders
 * and reads their small files; the ONNX sessions themselves are opened in the encoder workers.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const MODEL_FILES = [
  'text_model.onnx',
  'vision_model.onnx',
  'tokenizer.json',
  'preprocessor_config.json',
] as const;

export interface ModelFolder {
  /** The folder name; the id clients pass as `model`. */
  id: string;
  dir: string;
  /** Files of the layout the folder lacks (empty when complete). */
  missing: string[];
}

export function describeModelFolder(dir: string): ModelFolder {
  const resolved = path.resolve(dir);
  return {
    id: path.basename(resolved),
    dir: resolved,
    missing: MODEL_FILES.filter((file) => !existsSync(path.join(resolved, file))),
  };
}

/** Every sub-folder of `modelsDir` that has at least one ONNX file of the layout. */
export function findModelFolders(modelsDir: string): ModelFolder[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir)
    .filter((name) => statSync(path.join(modelsDir, name)).isDirectory())
    .map((name) => describeModelFolder(path.join(modelsDir, name)))
    .filter((folder) => folder.missing.length < MODEL_FILES.length)
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The logit scale the model was trained with, from config.json's `logit_scale` (the exp of the
 * checkpoint's `logit_scale` weight: 100 for OpenAI CLIP), or null when the folder states none.
 * Hugging Face's `logit_scale_init_value` is an initial value, never the trained scale: not read.
 */
export function readLogitScale(folder: ModelFolder): number | null {
  const config = path.join(folder.dir, 'config.json');
  if (!existsSync(config)) return null;
  const value = (JSON.parse(readFileSync(config, 'utf8')) as { logit_scale?: unknown }).logit_scale;
  if (value === undefined) return null;
  if (typeof value !== 'number' || !(value > 0 && value <= 1000)) {
    throw new Error(
      `config.json: logit_scale must be a number in (0, 1000], the exp of the trained logit_scale weight (got ` +
        `${JSON.stringify(value)})`,
    );
  }
  return value;
}

/** Human-readable name: the model card's first heading, else config.json's `_name_or_path`, else the id. */
export function readModelName(folder: ModelFolder): string {
  const card = path.join(folder.dir, 'README.md');
  if (existsSync(card)) {
    const heading = readFileSync(card, 'utf8').match(/^#\s+(.+)$/m);
    if (heading) return heading[1].trim();
  }
  const config = path.join(folder.dir, 'config.json');
  if (existsSync(config)) {
    const name = (JSON.parse(readFileSync(config, 'utf8')) as { _name_or_path?: string })._name_or_path;
    if (name) return name;
  }
  return folder.id;
}
