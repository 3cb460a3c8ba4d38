/**
 * The import rules of src/ (../shared/docs/architecture.md, README "Layout"), run by `npm run
 * lint`: the folders depend on each other in one direction. The method and the shared leaves
 * import nothing of ours, only inference/ touches onnxruntime and libvips, services never see
 * GraphQL or HTTP, the edge never reaches past the services, and no two folders import each other
 * through any path. Biome's restricted imports cannot say "this folder must not import that one",
 * so this reads the imports itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** folder (or top-level file) → the folders it must not import from */
const FORBIDDEN: Record<string, readonly string[]> = {
  neglabel: ['*'],
  lib: ['*'],
  domain: ['*'],
  // the log's hashing, proofs, signatures and verification: node:crypto only
  transparency: ['*'],
  // a client of the public API, as any other: nothing of the service
  cli: ['*'],
  inference: ['services', 'repositories', 'database', 'graphql', 'http', 'jobs', 'config.ts'],
  repositories: ['services', 'jobs', 'graphql', 'http'],
  jobs: ['graphql', 'http'],
  services: ['graphql', 'http', 'jobs'],
  graphql: ['repositories', 'database', 'http', 'jobs'],
  http: ['inference', 'repositories', 'database', 'jobs'],
  'config.ts': ['services', 'repositories', 'graphql', 'http', 'jobs'],
};
/** folders any folder may use: the shared leaves */
const SHARED = new Set(['errors.ts', 'logger.ts', 'lib', 'generated', 'domain']);
/** files any folder may use: the one interface encoders sit behind */
const INTERFACES = new Set(['inference/encoder.ts']);

/** packages that belong to some folders: the native image and ONNX code, the GraphQL edge */
const PACKAGE_HOMES: Record<string, readonly string[]> = {
  sharp: ['inference'],
  'onnxruntime-node': ['inference'],
  graphql: ['graphql', 'http'],
  '@apollo/server': ['graphql', 'http'],
};

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** The TypeScript files under `src`, as `folder/file.ts` paths (generated code left out). */
export function sourceFiles(src: string): string[] {
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.startsWith('generated'))
    .map((f) => f.split(path.sep).join('/'));
}

/** The specifiers a source text imports or re-exports, static and dynamic. */
export function importsOf(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
}

const folderOf = (file: string) => file.split('/')[0];

/** Every break of the rules in a tree of `file → its source text`, and every loop between folders. */
export function layeringProblems(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const folderEdges = new Map<string, Set<string>>();
  for (const [file, text] of files) {
    const from = folderOf(file);
    for (const specifier of importsOf(text)) {
      if (specifier.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
        const to = folderOf(target);
        if (to === from || SHARED.has(to)) continue;
        if (!folderEdges.has(from)) folderEdges.set(from, new Set());
        folderEdges.get(from)!.add(to);
        if (INTERFACES.has(target)) continue;
        const rule = FORBIDDEN[from] ?? [];
        if (rule.includes('*') || rule.includes(to)) problems.push(`${file} imports ${target}`);
      } else {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        const homes = PACKAGE_HOMES[name];
        if (homes && !homes.includes(from)) problems.push(`${file} imports the package ${name}`);
      }
    }
  }
  for (const loop of folderLoops(folderEdges)) problems.push(`folder loop: ${loop.join(' -> ')}`);
  return problems;
}

/** Each loop of the folder graph once, as the path from its first folder (in name order) back to it. */
function folderLoops(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const loops: string[][] = [];
  const seen = new Set<string>();
  const walk = (start: string, at: string, trail: string[]) => {
    for (const next of edges.get(at) ?? []) {
      if (next === start) {
        const key = [...trail].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          loops.push([...trail, start]);
        }
      } else if (next > start && !trail.includes(next)) walk(start, next, [...trail, next]);
    }
  };
  for (const start of [...edges.keys()].sort()) walk(start, start, [start]);
  return loops;
}

export function checkTree(src: string): string[] {
  return layeringProblems(new Map(sourceFiles(src).map((f) => [f, readFileSync(path.join(src, f), 'utf8')])));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problems = checkTree(path.resolve(import.meta.dirname, '../../src'));
  for (const problem of problems) console.error(`layering: ${problem}`);
  if (problems.length > 0) {
    console.error('move the code to the layer that owns it (README "Layout"; tools/lint/layering.ts has the rules)');
    process.exit(1);
  }
  console.log('layering: src/ imports follow the architecture');
}
