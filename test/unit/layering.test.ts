/**
 * The import rules of tools/lint/layering.ts (run by `npm run lint`): the tree keeps them, and the
 * checker sees what it must see, so a clean result is not a pattern that matched nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkTree, importsOf, layeringProblems, sourceFiles } from '../../tools/lint/layering.ts';

const SRC = path.resolve(import.meta.dirname, '../../src');

test('src/ folders import only in the directions the architecture allows, with no loop between folders', () => {
  assert.deepEqual(checkTree(SRC), [], 'move the code to the layer that owns it');
});

test('the checker reads relative, package and dynamic imports of the real files', () => {
  const worker = importsOf(readFileSync(path.join(SRC, 'inference/encoder-worker.ts'), 'utf8'));
  assert.ok(worker.includes('onnxruntime-node'));
  assert.ok(worker.includes('../errors.ts'));
  assert.deepEqual(importsOf("const m = await import('./later.ts');"), ['./later.ts']);
  assert.ok(sourceFiles(SRC).length > 50);
});

test('an upward import, a package outside its folder and a loop between folders are each reported', () => {
  const tree = new Map([
    ['repositories/records.ts', "import { x } from '../services/scoring.ts';"],
    ['services/scoring.ts', "import sharp from 'sharp';\nimport type { Encoder } from '../inference/encoder.ts';"],
    ['inference/encoder.ts', "import { DomainError } from '../errors.ts';"],
    ['jobs/runner.ts', "import { y } from '../services/mining.ts';"],
    ['services/mining.ts', "import { z } from '../jobs/math.ts';"],
  ]);
  assert.deepEqual(layeringProblems(tree), [
    'repositories/records.ts imports services/scoring.ts',
    'services/scoring.ts imports the package sharp',
    'services/mining.ts imports jobs/math.ts',
    'folder loop: jobs -> services -> jobs',
  ]);
});
