/**
 * The pages the service shows a person: the operator console at `/` and a GraphQL IDE (GraphiQL)
 * at `/graphql` for browsers. Every script and style comes from this service (the console's
 * bundle, built at install by tools/build-console.ts, and the npm packages it serves), so the pages
 * work offline and on air-gapped hosts; a content security policy keeps them to this origin. The
 * pages hold the API key the user types in the browser only and talk to the public GraphQL API.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express from 'express';

const require = createRequire(import.meta.url);
const packageFile = (name: string, file: string) =>
  path.join(path.dirname(require.resolve(`${name}/package.json`)), file);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Files under /assets/: the name a page asks for → where it is. */
const ASSETS: Record<string, string> = {
  'react.js': packageFile('react', 'umd/react.production.min.js'),
  'react-dom.js': packageFile('react-dom', 'umd/react-dom.production.min.js'),
  'graphiql.js': packageFile('graphiql', 'graphiql.min.js'),
  'graphiql.css': packageFile('graphiql', 'graphiql.min.css'),
  'uplot.css': packageFile('uplot', 'dist/uPlot.min.css'),
  'console.js': path.join(ROOT, 'dist/console/console.js'),
  'graphiql-page.js': path.join(ROOT, 'dist/console/graphiql-page.js'),
  'console.css': path.join(ROOT, 'src/console/console.css'),
  'favicon.svg': path.join(ROOT, 'src/console/favicon.svg'),
};

const POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // GraphiQL and uPlot set element styles at run time
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

function page(title: string, styles: string[], scripts: string[], body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    '<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">',
    ...styles.map((s) => `<link rel="stylesheet" href="/assets/${s}">`),
    '</head><body>',
    body,
    ...scripts.map((s) => `<script src="/assets/${s}"></script>`),
    '</body></html>',
  ].join('\n');
}

const CONSOLE_PAGE = page('neglabel console', ['uplot.css', 'console.css'], ['console.js'], '<div id="app"></div>');
const GRAPHIQL_PAGE = page(
  'neglabel GraphQL IDE',
  ['graphiql.css', 'console.css'],
  ['react.js', 'react-dom.js', 'graphiql.js', 'graphiql-page.js'],
  '<div class="ide-bar"><a href="/">console</a><label>API key <input id="key" type="password" ' +
    'autocomplete="off" placeholder="Bearer key (kept in this tab only)"></label></div><div id="graphiql"></div>',
);

/** A browser asking for a page (not a GraphQL GET request, which carries a query). */
export function wantsPage(req: express.Request): boolean {
  return req.method === 'GET' && req.accepts(['json', 'html']) === 'html' && req.query.query === undefined;
}

export function consoleRouter(): express.Router {
  const missing = Object.entries(ASSETS).filter(([, file]) => !existsSync(file));
  const router = express.Router();
  const send = (html: string) => (_req: express.Request, res: express.Response) => {
    res.set({ 'content-security-policy': POLICY, 'x-content-type-options': 'nosniff' }).type('html').send(html);
  };
  router.get('/', send(CONSOLE_PAGE));
  router.get('/graphql', (req, res, next) => (wantsPage(req) ? send(GRAPHIQL_PAGE)(req, res) : next()));
  // browsers ask for /favicon.ico whatever the page links: the same icon
  router.get('/favicon.ico', (_req, res) => {
    res.type('image/svg+xml').sendFile(ASSETS['favicon.svg'], { headers: { 'cache-control': 'max-age=86400' } });
  });
  router.get('/assets/:name', (req, res) => {
    // own keys only: `constructor` and other prototype names are not assets
    const file = Object.hasOwn(ASSETS, req.params.name) ? ASSETS[req.params.name] : undefined;
    if (!file || missing.some(([name]) => name === req.params.name)) {
      res
        .status(404)
        .type('text')
        .send(file ? 'The console is not built: run `npm run build:console` (npm install runs it).' : 'Not found');
      return;
    }
    res.sendFile(file, { headers: { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' } });
  });
  return router;
}
