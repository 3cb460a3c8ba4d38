import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import type { ScoringFilter } from '../../src/domain/scoring-record.ts';
import { ScoringRecordRepository } from '../../src/repositories/scoring-record-repository.ts';
import { mulberry32 } from '../../src/neglabel/random.ts';

let app: TestApp;
let repository: ScoringRecordRepository;
const taxonomyId = randomUUID();
const versionId = randomUUID();

before(async () => {
  app = await startTestApp({ NEGLABEL_ENCODER_WORKERS: '1' });
  const { pool } = app.database;
  await pool.query(`INSERT INTO taxonomies (id, name) VALUES ($1, 'stats')`, [taxonomyId]);
  await pool.query(
    `INSERT INTO taxonomy_versions (id, taxonomy_id, version, labels, prompt_template, model_id) VALUES ($1, $2, ` +
      `1, '{a}', 'the nice {}', 'm')`,
    [versionId, taxonomyId],
  );
  // 3,000 records over 10 days in three batches (the rollup is maintained per statement)
  const random = mulberry32(9);
  for (let batch = 0; batch < 3; batch++) {
    await pool.query(
      `INSERT INTO scoring_records (created_at, caller, taxonomy_id, taxonomy_version_id, negative_set_id,
         model_id, threshold, image_hash, image_embedding, score, logit_score, is_ood, predicted_label, top_labels,
         top_negatives, latency_ms)
       SELECT '2026-11-01T00:00:00Z'::timestamptz + (t * interval '1 hour'), CASE WHEN s > 0.7 THEN 'svc-a'
         ELSE 'svc-b' END, $1, $2, $1, 'm', 0.5, 'h', '[1,0]', s, 0, s < 0.5, 'a', '[]', '[]', 1
       FROM unnest($3::float8[], $4::int[]) AS x(s, t)`,
      [
        taxonomyId,
        versionId,
        Array.from({ length: 1000 }, () => random()),
        Array.from({ length: 1000 }, () => Math.floor(random() * 240)),
      ],
    );
  }
  repository = new ScoringRecordRepository(pool, app.database.ddl, app.database.server);
});
after(() => app.close());

test('statistics from the daily rollup equal those from scanning the history', async () => {
  const filters: ScoringFilter[] = [
    { taxonomyId },
    { taxonomyId, caller: 'svc-a' },
    { taxonomyId, from: new Date('2026-11-03T00:00:00Z'), to: new Date('2026-11-08T00:00:00Z') },
    {},
  ];
  for (const filter of filters) {
    for (const [interval, bins] of [
      ['day', 10],
      ['week', 4],
      ['day', 20],
    ] as const) {
      const rollup = await repository.stats(filter, interval, bins);
      // a `to` off midnight forces the scanning path; records sit on whole hours, so the rows are the same
      const scanFilter = {
        ...filter,
        to: filter.to ? new Date(filter.to.getTime() - 1) : new Date('2030-01-01T00:00:01Z'),
      };
      const scan = await repository.stats(scanFilter, interval, bins);
      assert.equal(rollup.total, scan.total);
      assert.equal(rollup.ood, scan.ood);
      assert.ok(Math.abs((rollup.mean ?? 0) - (scan.mean ?? 0)) < 1e-9);
      assert.deepEqual(rollup.histogram, scan.histogram, `${JSON.stringify(filter)} ${interval} ${bins}`);
      assert.deepEqual(
        rollup.buckets.map((b) => [b.start.toISOString(), b.total, b.ood]),
        scan.buckets.map((b) => [b.start.toISOString(), b.total, b.ood]),
      );
    }
  }
  const all = await repository.stats({ taxonomyId }, 'day', 10);
  assert.equal(all.total, 3000);
  assert.equal(all.buckets.length, 10);
});
