/**
 * Builds the browser pages' scripts (src/console/) into dist/console/ with esbuild: `npm run
 * build:console`, run by `npm install` like the other generated code. One bundle each, for the
 * browsers of the last few years; uPlot is bundled in, React and GraphiQL are served as the
 * packages ship them (src/http/console.ts).
 */
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '../..');
const started = Date.now();
await build({
  entryPoints: {
    console: path.join(root, 'src/console/main.ts'),
    'graphiql-page': path.join(root, 'src/console/graphiql-page.ts'),
  },
  outdir: path.join(root, 'dist/console'),
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
console.log(`console built in ${Date.now() - started} ms`);
