/**
 * The Dockerfile and compose.yaml cannot be run here (offline, no container runtime): what can be
 * checked is that they agree with the service — the image starts what `npm start` starts, as a
 * non-root user without dev dependencies, and compose sets only variables the service reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const compose = readFileSync('compose.yaml', 'utf8');
const config = readFileSync('src/config.ts', 'utf8');
const readme = readFileSync('README.md', 'utf8');

test("the image's command is npm start's, run as a non-root user with production dependencies only", () => {
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
  const start = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start as string;
  assert.equal(cmd.join(' '), start);
  const stages = dockerfile.split(/^FROM /m);
  assert.match(stages.at(-1)!, /^USER node$/m, 'the final stage drops root');
  assert.match(dockerfile, /npm prune --omit=dev/);
  assert.doesNotMatch(stages.at(-1)!, /COPY (\.|models)/, 'models are mounted, not baked in');
});

/** `KEY: value` lines in each service's `environment:` block. */
function environment(service: string): string[] {
  const block = new RegExp(`^  ${service}:\\n([\\s\\S]*?)(?=^  \\S|^\\S)`, 'm').exec(compose)![1];
  const env = /^ {4}environment:\n((?: {6}.*\n)+)/m.exec(block)![1];
  return [...env.matchAll(/^ {6}([A-Z_]+):/gm)].map((m) => m[1]);
}

test('every variable compose sets for neglabel is one the service reads and the README documents', () => {
  for (const service of ['api', 'worker']) {
    const names = environment(service);
    assert.ok(names.includes('NEGLABEL_ROLE') && names.includes('DATABASE_URL'), service);
    for (const name of names) {
      assert.match(
        config,
        new RegExp(`env(\\.${name}\\b|, '${name}')`),
        `${service}: ${name} is read by src/config.ts`,
      );
      assert.ok(readme.includes(`\`${name}\``), `${service}: ${name} is in the README's environment table`);
    }
  }
  assert.deepEqual(environment('postgres').sort(), ['POSTGRES_DB', 'POSTGRES_PASSWORD', 'POSTGRES_USER']);
});

test('the image builds what npm install builds: the generated code and the console, with their sources', () => {
  const [build, final] = dockerfile.split(/^FROM /m).slice(1);
  const postinstall = JSON.parse(readFileSync('package.json', 'utf8')).scripts.postinstall as string;
  // every generator postinstall runs has its script copied in before `npm ci`
  for (const script of ['codegen', 'build:console'])
    assert.ok(postinstall.includes(`npm run ${script}`), `postinstall runs ${script}`);
  for (const input of ['schema.graphql', 'prisma', 'src', 'tools/codegen', 'tools/console'])
    assert.match(build, new RegExp(`^COPY [^\\n]*${input.replace('/', '\\/')}`, 'm'), `${input} is in the build stage`);
  assert.match(final, /^COPY --from=build \/app\/dist \.\/dist$/m, 'the console bundle reaches the image');
});
