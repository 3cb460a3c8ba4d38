/**
 * The `neglabel` command line client as a user runs it: a separate process talking to a started
 * service over HTTP with a key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_KEY, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';
import { verifyHistory } from '../../tools/verify-history/run.ts';

let app: TestApp;
let work: string;
before(async () => {
  app = await startTestApp();
  work = mkdtempSync(path.join(os.tmpdir(), 'neglabel-cli-'));
});
after(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

function cli(args: string[], key: string = ADMIN_KEY): Promise<{ status: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.resolve('bin/neglabel.mjs'), ...args], {
    env: { PATH: process.env.PATH, NEGLABEL_URL: app.url, NEGLABEL_KEY: key },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr })));
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

test('keys, mining with progress, scoring a folder with one bad file, and the history export', async () => {
  const created = await cli(['keys', 'create', '--name', 'cli scorer', '--role', 'SCORER']);
  assert.equal(created.status, 0, created.stderr);
  const [scorer] = jsonLines(created.stdout);
  assert.match(scorer.key, /^nl_/);
  assert.equal(scorer.role, 'SCORER');
  assert.match(created.stderr, /shown once/);
  const listed = await cli(['keys', 'list']);
  assert.ok(jsonLines(listed.stdout).some((k) => k.id === scorer.id && !k.revoked));

  const taxonomy = await app.graphql(
    'mutation { createTaxonomy(input: { name: "cli pets", labels: ["cat", "dog", "hamster"] }) { id } }',
  );
  const taxonomyId: string = taxonomy.data.createTaxonomy.id;
  const corpus = path.join(work, 'corpus.tsv');
  // the corpus createMinedTaxonomy mines over, as a file
  const nouns = ['car', 'house', 'tree', 'river', 'cloud', 'stone', 'chair', 'lamp', 'boat', 'bridge', 'road', 'hill'];
  const adjectives = ['red', 'quiet', 'tall', 'wet', 'slow', 'bright', 'empty', 'round'];
  writeFileSync(corpus, [...nouns.map((w) => `${w}\tNOUN`), ...adjectives.map((w) => `${w}\tADJECTIVE`)].join('\n'));
  const mined = await cli([
    'mine',
    '--taxonomy',
    taxonomyId,
    '--corpus',
    corpus,
    '--groups',
    '2',
    '--selection-ratio',
    '0.5',
    '--follow',
  ]);
  assert.equal(mined.status, 0, mined.stderr + mined.stdout);
  const [job] = jsonLines(mined.stdout);
  assert.equal(job.status, 'SUCCEEDED');
  assert.ok(job.negativeSet.labelCount > 0);
  assert.match(mined.stderr, /SUCCEEDED saving|RUNNING/, 'progress lines on standard error');

  const folder = path.join(work, 'images');
  mkdirSync(path.join(folder, 'nested'), { recursive: true });
  writeFileSync(path.join(folder, 'a.png'), fixtureImage('images/rgb224.png'));
  writeFileSync(path.join(folder, 'b-broken.png'), 'not an image at all');
  writeFileSync(path.join(folder, 'nested', 'c.jpg'), fixtureImage('images/rgb640x480.jpg'));
  writeFileSync(path.join(folder, 'notes.txt'), 'not an image file name: left out');
  const scored = await cli(['score', '--taxonomy', taxonomyId, '--json', folder], scorer.key);
  assert.equal(scored.status, 1, 'one file failed');
  const lines = jsonLines(scored.stdout);
  assert.deepEqual(
    lines.map((l) => path.relative(folder, l.file)),
    ['a.png', 'b-broken.png', 'nested/c.jpg'],
  );
  assert.equal(lines[1].error.code, 'INVALID_IMAGE');
  for (const line of [lines[0], lines[2]]) {
    const record = await app.graphql('query($id: ID!) { scoringRecord(id: $id) { score isOOD filename } }', {
      id: line.recordId,
    });
    assert.deepEqual(record.data.scoringRecord, {
      score: line.score,
      isOOD: line.isOOD,
      filename: path.basename(line.file),
    });
  }

  const shown = await cli(['score', '--taxonomy', taxonomyId, path.join(folder, 'a.png')], scorer.key);
  assert.equal(shown.status, 0, shown.stderr);
  const [header, row] = shown.stdout.trimEnd().split('\n');
  assert.match(header, /^file\s+score\s+decision\s+predicted label$/);
  assert.match(row, /a\.png\s+\d\.\d{4}\s+(ID|OOD)\s+(cat|dog|hamster)$/);

  const exported = await cli(['history', '--taxonomy', taxonomyId]);
  assert.equal(exported.status, 0, exported.stderr);
  const records = jsonLines(exported.stdout);
  assert.equal(records.length, 3, 'the two scored files and the one scored again');
  assert.deepEqual(
    records
      .slice(1)
      .map((r) => r.id)
      .sort(),
    [lines[0].recordId, lines[2].recordId].sort(),
  );
  assert.ok(records.every((r) => r.taxonomyId === taxonomyId && r.caller === 'cli scorer'));

  // the verifiable history: log, checkpoint and key from the CLI, checked by the verifier
  await app.sealer!.sealAll();
  const log = await cli(['history-log']);
  assert.equal(log.status, 0, log.stderr);
  const checkpoint = await cli(['checkpoint']);
  const keys = await cli(['signing-keys']);
  const [kept] = jsonLines(checkpoint.stdout);
  const [key] = jsonLines(keys.stdout);
  assert.equal(kept.keyId, key.keyId);
  const files = {
    log: path.join(work, 'log.jsonl'),
    kept: path.join(work, 'kept.json'),
    key: path.join(work, 'k.pem'),
  };
  writeFileSync(files.log, log.stdout);
  writeFileSync(files.kept, JSON.stringify(kept));
  writeFileSync(files.key, key.publicKey);
  const leaves = jsonLines(log.stdout).filter((l) => l.type === 'leaf');
  assert.equal(leaves.length, kept.treeSize);
  const resumed = await cli(['history-log', '--from', String(kept.treeSize - 2)]);
  assert.deepEqual(
    jsonLines(resumed.stdout).map((l) => l.position),
    [kept.treeSize - 2, kept.treeSize - 1],
    'a resumed download carries the leaves from there on',
  );
  const verified = await verifyHistory({
    exportFile: files.log,
    publicKeys: [key.publicKey],
    keptCheckpoints: [kept],
  });
  assert.equal(verified.ok, true, JSON.stringify(verified.problems));
  const scopedOut = await cli(['history-log'], scorer.key);
  assert.equal(scopedOut.status, 1);
  assert.match(scopedOut.stderr, /FORBIDDEN/);
});

test('bad usage exits 2 with the usage text; a refused key exits 1 naming the code', async () => {
  const usage = await cli(['score']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /needs --taxonomy ID|needs image files/);
  assert.match(usage.stderr, /Usage: neglabel/);
  const unknown = await cli(['frobnicate']);
  assert.equal(unknown.status, 2);
  const refused = await cli(['taxonomies'], 'nl_not_a_real_key_0000000000000');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /\(UNAUTHENTICATED\)/);
});
