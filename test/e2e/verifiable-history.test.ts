/**
 * The verifiable history end to end, on the test run's database: records and audit entries are
 * sealed into the log with a signed checkpoint, every proof the API gives verifies offline, an
 * export verifies with `npm run verify-history`, and tampering as the database owner with the
 * triggers off (a changed decision, a deleted record, two records swapped, a forged record behind
 * the sealer, a rolled-back checkpoint table) is each caught, naming where. Then a key rotation
 * keeps the old checkpoints verifiable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ADMIN_KEY, base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { dropServiceDatabase } from '../helpers/backend.ts';
import { fixtureImage } from '../helpers/fixtures.ts';
import { checkpointNote, newSigningKeyPem, trustedKeys, verifyCheckpoint } from '../../src/transparency/checkpoint.ts';
import { historyLeafHash } from '../../src/transparency/leaf.ts';
import { verifyConsistency, verifyInclusion } from '../../src/transparency/merkle.ts';
import { checkpointFromJson, type CheckpointJson, type ExportLine } from '../../src/transparency/verify.ts';
import { verifyHistory } from '../../tools/verify-history/run.ts';

const run = promisify(execFile);
const unhex = (s: string) => Buffer.from(s, 'hex');
const CHECKPOINT_FIELDS = 'treeSize rootHash signedAt previousHash keyId signature note';
interface Proof {
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  hashes: string[];
  checkpoint: { rootHash: string };
}
const PROOF = `proof { leafIndex treeSize leafHash hashes checkpoint { ${CHECKPOINT_FIELDS} } }`;

async function ok(app: TestApp, query: string, variables?: Record<string, unknown>) {
  const result = await app.graphql(query, variables);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data;
}

async function score(app: TestApp, taxonomyId: string, files: string[]): Promise<string[]> {
  const data = await ok(app, 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
    i: { taxonomyId, images: files.map((f) => ({ data: base64(fixtureImage(f)), filename: f })) },
  });
  return data.scoreImages.map((r: { recordId: string }) => r.recordId);
}

async function exportLog(app: TestApp): Promise<string> {
  const response = await fetch(`${app.url}/v1/history/log`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /application\/x-ndjson/);
  return response.text();
}

/** Runs SQL as the database owner with every trigger off (what a DBA or a restored backup can do). */
async function asOwner(app: TestApp, sql: string): Promise<void> {
  const client = await app.database.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query(sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

const positionOf = async (app: TestApp, recordId: string) =>
  Number(
    (
      await app.database.pool.query(
        "SELECT position::text AS p FROM history_log_leaves WHERE kind = 'scoring' AND record_id = $1",
        [recordId],
      )
    ).rows[0].p,
  );

test('the history log seals, proves and exports the history, and catches each tampering by position', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-history-log-'));
  const dataDir = path.join(dir, 'data');
  // sealing is driven by the test (sealAll), so what each checkpoint holds is known
  let app = await startTestApp({ NEGLABEL_DATA_DIR: dataDir, NEGLABEL_HISTORY_SEAL_MS: '0' });
  try {
    const taxonomyId = await createMinedTaxonomy(app, 'pets');
    const first = await score(app, taxonomyId, ['images/rgb224.png', 'images/tiny8.png', 'images/rgb224b.png']);
    assert.ok((await app.sealer!.sealAll()) > 0);
    const counted = await app.database.pool.query(
      'SELECT (SELECT count(*) FROM scoring_records) + (SELECT count(*) FROM audit_log) AS n',
    );
    const { historyCheckpoint: head1, historySigningKeys: keys } = await ok(
      app,
      `{ historyCheckpoint { ${CHECKPOINT_FIELDS} } historySigningKeys { keyId publicKey firstUsedAt } }`,
    );
    assert.equal(head1.treeSize, Number(counted.rows[0].n), 'every record and audit entry is a leaf');
    assert.equal(keys.length, 1);
    assert.equal(keys[0].keyId, app.sealer!.keyId);
    const trusted = trustedKeys(keys.map((k: { publicKey: string }) => k.publicKey));
    assert.ok(verifyCheckpoint(checkpointFromJson(head1), trusted), 'the checkpoint is signed by the shown key');
    assert.equal(head1.note, checkpointNote(checkpointFromJson(head1)));
    assert.equal(head1.previousHash, null);
    // the embedded mode's key was made on first start, readable by this user alone
    assert.equal(statSync(path.join(dataDir, 'history-signing-key.pem')).mode & 0o777, 0o600);

    // every record's and audit entry's proof leads to the signed root
    const { scoringRecords, auditLog } = await ok(
      app,
      `{ scoringRecords { edges { node { id ${PROOF} } } } auditLog { edges { node { id ${PROOF} } } } }`,
    );
    const nodes = [...scoringRecords.edges, ...auditLog.edges].map((e: { node: { proof: Proof } }) => e.node);
    assert.equal(nodes.length, head1.treeSize);
    const positions = new Set<number>();
    for (const { proof } of nodes) {
      assert.equal(proof.checkpoint.rootHash, head1.rootHash);
      assert.ok(
        verifyInclusion(
          unhex(proof.leafHash),
          proof.leafIndex,
          proof.treeSize,
          proof.hashes.map(unhex),
          unhex(head1.rootHash),
        ),
      );
      positions.add(proof.leafIndex);
    }
    assert.equal(positions.size, head1.treeSize, 'each leaf has a position of its own');

    // more history, a second checkpoint that names the first, and a consistency proof between them
    const second = await score(app, taxonomyId, ['images/rgb200x300.png', 'images/gray256.png']);
    await app.sealer!.sealAll();
    const { historyCheckpoint: head2 } = await ok(app, `{ historyCheckpoint { ${CHECKPOINT_FIELDS} } }`);
    assert.equal(head2.treeSize, head1.treeSize + 2);
    assert.notEqual(head2.previousHash, null);
    const { historyConsistencyProof } = await ok(
      app,
      'query($a: Int!, $b: Int!) { historyConsistencyProof(fromSize: $a, toSize: $b) { hashes } }',
      { a: head1.treeSize, b: head2.treeSize },
    );
    assert.ok(
      verifyConsistency(
        head1.treeSize,
        head2.treeSize,
        unhex(head1.rootHash),
        unhex(head2.rootHash),
        historyConsistencyProof.hashes.map(unhex),
      ),
    );
    const beyond = await app.graphql('{ historyConsistencyProof(fromSize: 1, toSize: 100000) { hashes } }');
    assert.equal(beyond.errors?.[0].extensions.code, 'BAD_USER_INPUT');

    // the export verifies offline with the real command, and its leaves are the proofs' leaves
    const exported = await exportLog(app);
    const lines = exported
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ExportLine);
    const leaves = lines.filter((l) => l.type === 'leaf');
    assert.equal(leaves.length, head2.treeSize);
    for (const leaf of leaves) {
      if (leaf.type !== 'leaf' || !leaf.fields) throw new Error('a leaf without its record');
      assert.equal(
        historyLeafHash({ position: leaf.position, kind: leaf.kind, fields: leaf.fields }).toString('hex'),
        leaf.leafHash,
      );
    }
    const exportFile = path.join(dir, 'log.jsonl');
    const keyFile = path.join(dir, 'history.pub.pem');
    const keptFile = path.join(dir, 'kept-checkpoint.json');
    writeFileSync(exportFile, exported);
    writeFileSync(keyFile, keys[0].publicKey);
    const { note: _, ...kept } = head2;
    writeFileSync(keptFile, JSON.stringify(kept));
    const verified = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'tools/verify-history/run.ts',
        '--export',
        exportFile,
        '--public-key',
        keyFile,
        '--checkpoint',
        keptFile,
      ],
      { env: { ...process.env, NODE_OPTIONS: '' } },
    );
    assert.match(
      verified.stdout,
      new RegExp(`${head2.treeSize} leaves read, ${head2.treeSize} covered by 2 checkpoints: the history verifies`),
    );

    const publicKeys = [keys[0].publicKey];
    const keptCheckpoints = [kept as CheckpointJson];
    const live = () => verifyHistory({ pool: app.database.pool, publicKeys, keptCheckpoints });
    assert.equal((await live()).ok, true, JSON.stringify((await live()).problems));
    const offline = async () => {
      writeFileSync(exportFile, await exportLog(app));
      return verifyHistory({ exportFile, publicKeys, keptCheckpoints });
    };

    /** Tampers, expects both verifiers to name `position` (live only for a forged row), then undoes. */
    const caught = async (tamper: string, undo: string, position: number | null, message: RegExp) => {
      await asOwner(app, tamper);
      try {
        for (const report of position === null ? [await live()] : [await live(), await offline()]) {
          assert.equal(report.ok, false, `not caught: ${tamper}`);
          assert.equal(report.problems[0].position, position, JSON.stringify(report.problems));
          assert.match(report.problems.map((p) => p.message).join('\n'), message);
        }
      } finally {
        await asOwner(app, undo);
      }
      const after = await live();
      assert.equal(after.ok, true, `undoing left ${JSON.stringify(after.problems)}`);
    };
    const [a, b] = first;
    const pa = await positionOf(app, a);
    const pb = await positionOf(app, b);
    await caught(
      `UPDATE scoring_records SET is_ood = NOT is_ood WHERE id = ${a}`,
      `UPDATE scoring_records SET is_ood = NOT is_ood WHERE id = ${a}`,
      pa,
      new RegExp(`position ${pa}: scoring record ${a} does not match the leaf sealed`),
    );
    await caught(
      `CREATE TABLE tamper_kept AS SELECT * FROM scoring_records WHERE id = ${b};
       DELETE FROM scoring_records WHERE id = ${b}`,
      `INSERT INTO scoring_records SELECT * FROM tamper_kept; DROP TABLE tamper_kept`,
      pb,
      new RegExp(`position ${pb}: scoring record ${b} is gone from the history`),
    );
    const swap = `UPDATE scoring_records r SET score = s.score, logit_score = s.logit_score, is_ood = s.is_ood
      FROM scoring_records s WHERE r.id IN (${a}, ${b}) AND s.id IN (${a}, ${b}) AND s.id <> r.id`;
    await caught(swap, swap, Math.min(pa, pb), /does not match the leaf sealed/);
    await caught(
      `CREATE TABLE tamper_forged AS SELECT * FROM scoring_records WHERE id = ${a};
       UPDATE tamper_forged SET id = 900000001, writer_xid = '0', is_ood = NOT is_ood;
       INSERT INTO scoring_records SELECT * FROM tamper_forged; DROP TABLE tamper_forged`,
      'DELETE FROM scoring_records WHERE id = 900000001',
      null,
      /scoring record 900000001 sits before the last sealed position but is not in the log/,
    );
    await caught(
      `CREATE TABLE tamper_heads AS SELECT * FROM history_checkpoints WHERE tree_size > ${head1.treeSize};
       CREATE TABLE tamper_leaves AS SELECT * FROM history_log_leaves WHERE position >= ${head1.treeSize};
       DELETE FROM history_checkpoints WHERE tree_size > ${head1.treeSize};
       DELETE FROM history_log_leaves WHERE position >= ${head1.treeSize}`,
      `INSERT INTO history_checkpoints SELECT * FROM tamper_heads; INSERT INTO history_log_leaves SELECT * FROM
       tamper_leaves; DROP TABLE tamper_heads; DROP TABLE tamper_leaves`,
      head1.treeSize,
      /rolled back/,
    );
    // a record the runtime writes after the checkpoint is simply not sealed yet: no problem
    await score(app, taxonomyId, ['images/rgb300x200.png']);
    assert.equal((await live()).ok, true);
    assert.ok(second.length === 2);
  } finally {
    await app.close();
  }

  // a new key (rotation): the chain goes on, old checkpoints verify with the old key they name
  const rotated = newSigningKeyPem();
  app = await startTestApp({
    NEGLABEL_DATA_DIR: dataDir,
    NEGLABEL_HISTORY_SEAL_MS: '0',
    NEGLABEL_HISTORY_SIGNING_KEY: rotated,
  });
  try {
    await app.sealer!.sealAll();
    const { historySigningKeys: keys, historyCheckpoint: head } = await ok(
      app,
      `{ historySigningKeys { keyId publicKey } historyCheckpoint { ${CHECKPOINT_FIELDS} } }`,
    );
    assert.equal(keys.length, 2);
    assert.equal(head.keyId, app.sealer!.keyId);
    assert.equal(keys[1].keyId, app.sealer!.keyId);
    const both = await verifyHistory({
      pool: app.database.pool,
      publicKeys: keys.map((k: { publicKey: string }) => k.publicKey),
      keptCheckpoints: [],
    });
    assert.equal(both.ok, true, JSON.stringify(both.problems));
    assert.equal(both.checkpoints, 3);
    const newOnly = await verifyHistory({
      pool: app.database.pool,
      publicKeys: [keys[1].publicKey],
      keptCheckpoints: [],
    });
    assert.equal(newOnly.ok, false, 'checkpoints of a key the auditor does not trust are not taken');
    assert.match(newOnly.problems[0].message, /no signature of a trusted key/);
  } finally {
    await app.close();
    await dropServiceDatabase(dataDir);
    rmSync(dir, { recursive: true, force: true });
  }
});
