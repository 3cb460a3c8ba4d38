/**
 * The folders of src/ depend on each other in one direction (docs/architecture.md): the method is
 * pure, only inference/ touches onnxruntime and libvips, services never see GraphQL or HTTP, the
 * edge never reaches past the services. This test reads every import of src/ and fails on an edge
 * the rules forbid. The breaks that predate the rules are listed by name (a ratchet): a new break
 * fails, and so does a listed one that was fixed but not struck from the list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** folder (or top-level file) → the folders it must not import from */
const FORBIDDEN: Record<string, readonly string[]> = {
  neglabel: ['*'],
  lib: ['*'],
  inference: ['scoring', 'services', 'repositories', 'database', 'graphql', 'http', 'jobs', 'config.ts'],
  repositories: ['services', 'scoring', 'jobs', 'graphql', 'http'],
  scoring: ['services', 'jobs', 'graphql', 'http'],
  jobs: ['graphql', 'http'],
  services: ['graphql', 'http', 'jobs'],
  graphql: ['repositories', 'database', 'http', 'jobs', 'scoring'],
  http: ['inference', 'repositories', 'database', 'jobs', 'scoring'],
  'config.ts': ['services', 'repositories', 'graphql', 'http', 'jobs', 'scoring'],
};
/** folders any folder may use: the shared leaves */
const SHARED = new Set(['errors.ts', 'logger.ts', 'lib', 'generated']);
/** files any folder may use: the one interface encoders sit behind */
const INTERFACES = new Set(['inference/encoder.ts']);

/** packages that belong to one folder: the native image and ONNX code, the GraphQL edge */
const PACKAGE_HOMES: Record<string, readonly string[]> = {
  sharp: ['inference'],
  'onnxruntime-node': ['inference'],
  graphql: ['graphql', 'http'],
  '@apollo/server': ['graphql', 'http'],
};

/** breaks that predate this test, each to be struck when fixed (issue 24) */
const KNOWN_BREAKS = new Set([
  'config.ts -> services/url-images.ts',
  'graphql/errors.ts -> database/storage-guard.ts',
  'graphql/context.ts -> http/rate-limit.ts',
  'graphql/resolvers/history.ts -> repositories/scoring-record-repository.ts',
  'inference/encoder-worker.ts -> scoring/label-bank-registry.ts',
  'repositories/scoring-record-repository.ts -> services/taxonomy-service.ts',
]);

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.startsWith('generated'))
    .map((f) => f.split(path.sep).join('/'));
}

const folderOf = (file: string) => file.split('/')[0];

function imports(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles()) {
    const from = folderOf(file);
    for (const specifier of imports(file)) {
      if (specifier.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
        const to = folderOf(target);
        if (to === from || SHARED.has(to) || INTERFACES.has(target)) continue;
        const rule = FORBIDDEN[from] ?? [];
        if (rule.includes('*') || rule.includes(to)) found.push(`${file} -> ${target}`);
      } else {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        const homes = PACKAGE_HOMES[name];
        if (homes && !homes.includes(from)) found.push(`${file} -> package ${name}`);
      }
    }
  }
  return found;
}

test('src/ folders import only in the directions the architecture allows', () => {
  const found = violations();
  const fresh = found.filter((v) => !KNOWN_BREAKS.has(v));
  assert.deepEqual(fresh, [], 'new layering breaks: move the code to the layer that owns it');
  const fixed = [...KNOWN_BREAKS].filter((v) => !found.includes(v));
  assert.deepEqual(fixed, [], 'these listed breaks are gone: strike them from KNOWN_BREAKS');
});

test('the rules see imports: a file is read and its relative and package imports found', () => {
  // guards the test above against passing because the pattern matched nothing
  assert.ok(imports('http/openai-embeddings.ts').includes('../errors.ts'));
  assert.ok(imports('inference/encoder-worker.ts').some((s) => s === 'onnxruntime-node'));
  assert.ok(sourceFiles().length > 50);
});
