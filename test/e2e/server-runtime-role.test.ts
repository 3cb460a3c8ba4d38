import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../helpers/backend.ts';
import { applyMigrations } from '../../src/database/migrate.ts';
import { base64, createMinedTaxonomy, startTestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

const GRANTS = readFileSync('docs/database-roles.sql', 'utf8');
const image = (file: string) => ({ data: base64(fixtureImage(file)), filename: file });

test(
  'the service runs as a runtime role with the documented grants, and that role cannot rewrite ' + 'history',
  async () => {
    // one of the test server's databases (its roles are the cluster's); on the embedded database
    // the role is refused (embedded-runtime-role.test.ts)
    const db = await createTestDatabase().then((d) => ({ url: d.url, stop: d.drop }));
    const owner = new pg.Pool({ connectionString: db.url, max: 1 });
    await applyMigrations(owner, path.resolve('migrations'), () => {});
    await owner.query(
      "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'neglabel_runtime') THEN " +
        'CREATE ROLE neglabel_runtime; END IF; END $$',
    );
    await owner.query(GRANTS);
    await owner.end();
    const app = await startTestApp({
      DATABASE_URL: db.url,
      NEGLABEL_DATABASE_ROLE: 'neglabel_runtime',
      NEGLABEL_DB_POOL_SIZE: '1',
      NEGLABEL_JOB_POLL_MS: '50',
    });
    try {
      const ok = async (query: string, variables?: Record<string, unknown>) => {
        const result = await app.graphql(query, variables);
        assert.equal(result.errors, undefined, JSON.stringify(result.errors));
        return result.data;
      };
      assert.equal((await app.database.pool.query('SELECT current_user AS u')).rows[0].u, 'neglabel_runtime');
      // everything the service does, as the runtime role
      const taxonomyId = await createMinedTaxonomy(app, 'pets');
      await ok('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
        i: { taxonomyId, images: [image('images/rgb224.png'), image('images/tiny8.png')], idempotencyKey: 'k1' },
      });
      await ok('mutation($i: CalibrateThresholdInput!) { calibrateThreshold(input: $i) { threshold } }', {
        i: { taxonomyId, images: [image('images/rgb224.png')], apply: true },
      });
      const { createApiKey } = await ok(
        'mutation { createApiKey(input: { name: "svc", role: SCORER }) { apiKey { id } } }',
      );
      await ok('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id: createApiKey.apiKey.id });
      const stats = await ok(
        'query { scoringStats { total } scoringRecords { edges { node { id } } } auditLog { edges { node { action } ' +
          '} } }',
      );
      assert.equal(stats.scoringStats.total, 2, 'the rollup trigger wrote the daily stats as the owner');
      assert.ok(stats.auditLog.edges.length >= 3);

      // the sealer seals as this role too
      assert.ok((await app.sealer!.sealAll()) > 0);
      assert.ok((await ok('{ historyCheckpoint { treeSize } }')).historyCheckpoint.treeSize >= 5);

      // and what it must never do
      const refused = async (sql: string, pattern: RegExp) =>
        assert.rejects(app.database.pool.query(sql), pattern, sql);
      await refused('UPDATE scoring_records SET score = 0', /permission denied/);
      await refused('DELETE FROM audit_log', /permission denied/);
      await refused('TRUNCATE scoring_records', /permission denied/);
      await refused('ALTER TABLE scoring_records DISABLE TRIGGER ALL', /must be owner/);
      await refused('ALTER TABLE audit_log DISABLE TRIGGER ALL', /must be owner/);
      await refused('UPDATE scoring_daily_stats SET total = 0', /permission denied/);
      await refused(
        "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ('x', 'x', 'x', now())",
        /permission denied/,
      );
      await refused('CREATE INDEX evil ON scoring_records (score)', /must be owner/);
      await refused('DROP TABLE audit_log', /must be owner/);
      await refused('DELETE FROM scoring_records', /permission denied/);
      // nor place a row among sealed ones: id, writer and time are the database's
      const [row] = (await app.database.pool.query('SELECT * FROM scoring_records LIMIT 1')).rows;
      for (const column of ['id', 'writer_xid', 'created_at'])
        await refused(
          `INSERT INTO scoring_records (${column}, caller, taxonomy_id, taxonomy_version_id, negative_set_id, model_id,
             threshold, image_hash, image_embedding, score, logit_score, is_ood, predicted_label, top_labels,
             top_negatives, latency_ms)
           SELECT ${column}, caller, taxonomy_id, taxonomy_version_id, negative_set_id, model_id, threshold,
             image_hash, image_embedding, score, logit_score, is_ood, predicted_label, top_labels, top_negatives,
             latency_ms FROM scoring_records WHERE id = ${row.id}`,
          /permission denied/,
        );
      await refused("INSERT INTO audit_log (id, actor, action) VALUES (1, 'x', 'x')", /permission denied/);
      await refused('UPDATE history_checkpoints SET tree_size = 0', /permission denied/);
      await refused('DELETE FROM history_log_leaves', /permission denied/);
    } finally {
      await app.close();
      await db.stop();
    }
  },
);
