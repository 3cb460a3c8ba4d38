/**
 * Sealing under load: 16 clients score while two sealers (the app's and a second one with another
 * key, as a second process would run it) seal every 25 ms with small rounds. On a PostgreSQL
 * server they are separate sessions contending for the sealer lock; on PGlite their rounds queue
 * for the one backend. Nothing is lost, nothing sealed twice, and the whole log verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64, createMinedTaxonomy, startTestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';
import { createLogger } from '../../src/logger.ts';
import { HistorySealer } from '../../src/jobs/history-sealer.ts';
import { HistoryLogRepository } from '../../src/repositories/history-log-repository.ts';
import { newSigningKeyPem, signingKeyFromPem } from '../../src/transparency/checkpoint.ts';
import { verifyHistory } from '../../tools/verify-history/run.ts';

const IMAGES = ['images/rgb224.png', 'images/tiny8.png', 'images/rgb224b.png', 'images/gray256.png'];

test('two sealers keep up with 16 scoring clients, and the log holds every record exactly once', async () => {
  const app = await startTestApp({ NEGLABEL_HISTORY_SEAL_MS: '25', NEGLABEL_MAX_IN_FLIGHT_PER_KEY: '64' });
  const second = new HistorySealer(
    new HistoryLogRepository(app.database.pool),
    signingKeyFromPem(newSigningKeyPem()),
    createLogger('warn'),
    { intervalMs: 25, batchSize: 7 },
  );
  try {
    const taxonomyId = await createMinedTaxonomy(app, 'pets');
    await second.start();
    const sizes: number[] = [];
    const clients = Array.from({ length: 16 }, async (_, client) => {
      for (let request = 0; request < 4; request++) {
        const images = [IMAGES[(client + request) % 4], IMAGES[(client + request + 1) % 4]].map((f) => ({
          data: base64(fixtureImage(f)),
          filename: `${client}-${request}-${f}`,
        }));
        const result = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
          i: { taxonomyId, images },
        });
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        const { data } = await app.graphql('{ historyCheckpoint { treeSize } }');
        sizes.push(data.historyCheckpoint?.treeSize ?? 0);
      }
    });
    await Promise.all(clients);
    assert.ok(Math.max(...sizes) > 0, 'checkpoints were signed while the clients scored');
    await Promise.all([app.sealer!.sealAll(), second.sealAll()]);
    await app.sealer!.sealAll();
    const counts = await app.database.pool.query<{ records: string; entries: string; leaves: string }>(
      `SELECT (SELECT count(*) FROM scoring_records) AS records, (SELECT count(*) FROM audit_log) AS entries,
         (SELECT count(DISTINCT (kind, record_id)) FROM history_log_leaves) AS leaves`,
    );
    const { records, entries, leaves } = counts.rows[0];
    assert.equal(Number(records), 128);
    assert.equal(Number(leaves), Number(records) + Number(entries), 'every record and entry sealed exactly once');
    const keys = await app.database.pool.query<{ public_key: string }>('SELECT public_key FROM history_signing_keys');
    assert.equal(keys.rowCount, 2);
    const report = await verifyHistory({
      pool: app.database.pool,
      publicKeys: keys.rows.map((k) => k.public_key),
      keptCheckpoints: [],
    });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.sealedLeaves, Number(leaves));
    assert.ok(report.checkpoints >= 2, `${report.checkpoints} checkpoints`);
  } finally {
    await second.stop();
    await app.close();
  }
});
