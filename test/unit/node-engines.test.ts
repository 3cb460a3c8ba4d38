/**
 * package.json says which Node the service runs on; every package installed for production must
 * accept that Node too (a dependency that wants Node 22 would break a Node 20 deployment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import semver from 'semver';

test('every production dependency in the lockfile accepts the Node version package.json requires', () => {
  const required = JSON.parse(readFileSync('package.json', 'utf8')).engines.node as string;
  const oldest = semver.minVersion(required)!.version;
  assert.ok(semver.satisfies(process.version, required), `this Node (${process.version}) is below ${required}`);
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean; engines?: { node?: string } }>;
  };
  const refusing = Object.entries(lock.packages)
    .filter(([name, p]) => name && !p.dev && !p.devOptional && p.engines?.node)
    .filter(([, p]) => !semver.satisfies(oldest, p.engines!.node!))
    .map(([name, p]) => `${name} (${p.engines!.node})`);
  assert.deepEqual(refusing, [], `these need more than Node ${oldest}`);
});
