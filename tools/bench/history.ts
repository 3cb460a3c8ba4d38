/**
 * Benchmark 6 of `npm run bench`: dashboard queries over a large scoring history (seeded in bulk
 * with SQL), p50/p95 over HTTP, with the query plans that show which indexes serve them.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { ScoringRecordRepository } from '../../src/repositories/scoring-record-repository.ts';
import { randomUnitVectors } from '../../src/neglabel/random.ts';
import type { Row } from './math.ts';

const ADMIN = 'bench-admin-key-0123456789';
const CHUNK = 50_000;

export async function historyBenchmark(
  modelDir: string,
  records: number,
  log: (m: string) => void = () => {},
): Promise<{ rows: Row[]; plans: string[]; seedSeconds: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-history-'));
  const config = loadConfig({
    PORT: '0',
    NEGLABEL_DATA_DIR: dataDir,
    NEGLABEL_MODELS_DIR: path.join(dataDir, 'none'),
    NEGLABEL_MODEL_DIR: modelDir,
    NEGLABEL_ADMIN_KEY: ADMIN,
    LOG_LEVEL: 'warn',
    NEGLABEL_RATE_LIMIT_PER_MINUTE: '0',
  });
  const app = await startApp(config, createLogger('warn'));
  try {
    const { pool } = app.database;
    const model = app.services.encoder.resolveModel(null);
    const dim = model.embeddingDim!;
    const taxonomies = Array.from({ length: 5 }, () => ({ id: randomUUID(), version: randomUUID() }));
    for (const [i, t] of taxonomies.entries()) {
      await pool.query(`INSERT INTO taxonomies (id, name) VALUES ($1, $2)`, [t.id, `bench-${i}`]);
      await pool.query(
        `INSERT INTO taxonomy_versions (id, taxonomy_id, version, labels, prompt_template, model_id) VALUES ($1, ` +
          `$2, 1, '{a}', 'the nice {}', $3)`,
        [t.version, t.id, model.id],
      );
    }
    // 1,000 distinct embeddings reused across records: what matters for the index is the row count
    const vectors = randomUnitVectors(1000, dim, 77);
    await pool.query('CREATE TEMP TABLE bench_vectors (n int PRIMARY KEY, v vector)');
    await pool.query(
      `INSERT INTO bench_vectors SELECT i - 1, v::vector FROM unnest($1::text[]) WITH ORDINALITY AS x(v, i)`,
      [Array.from({ length: 1000 }, (_, i) => `[${Array.from(vectors.subarray(i * dim, (i + 1) * dim)).join(',')}]`)],
    );
    await new ScoringRecordRepository(pool, app.database.ddl, app.database.server).ensureVectorIndex(model.id, dim);
    const started = performance.now();
    for (let done = 0; done < records; done += CHUNK) {
      const n = Math.min(CHUNK, records - done);
      await pool.query(
        `INSERT INTO scoring_records (created_at, caller, taxonomy_id, taxonomy_version_id, negative_set_id,
           model_id, threshold, image_hash, image_embedding, score, logit_score, is_ood, predicted_label, top_labels,
           top_negatives, latency_ms)
         SELECT now() - (random() * interval '30 days'), 'service-' || (g % 8), t.id, t.version, t.id, $2, 0.5,
           md5(g::text), bv.v, s.score, s.score * 10 - 5, s.score < 0.5, 'label', '[]', '[]', 3
         FROM generate_series($1::int, $1::int + $3::int - 1) AS g
         CROSS JOIN LATERAL (SELECT random() AS score) s
         JOIN (SELECT * FROM unnest($4::uuid[], $5::uuid[]) WITH ORDINALITY AS u(id, version, k)) t ON t.k = g % 5 + 1
         JOIN bench_vectors bv ON bv.n = g % 1000`,
        [done, model.id, n, taxonomies.map((t) => t.id), taxonomies.map((t) => t.version)],
      );
      log(`seeded ${done + n} / ${records} scoring records`);
    }
    await pool.query('ANALYZE scoring_records');
    const seedSeconds = (performance.now() - started) / 1000;

    const gql = async (query: string, variables: object) => {
      const response = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const t = taxonomies[0].id;
    const to = new Date();
    const from = new Date(to.getTime() - 7 * 86400_000);
    const dayFrom = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()) - 30 * 86400_000);
    const operations: Array<[string, () => Promise<unknown>]> = [
      [
        'scoringRecords: taxonomy + OOD + last 7 days, first 50',
        () =>
          gql(
            'query($f: ScoringRecordFilter) { scoringRecords(filter: $f, first: 50) { edges { node { id score } } } }',
            { f: { taxonomyId: t, decision: 'OOD', from, to } },
          ),
      ],
      [
        'scoringRecords: next page (cursor)',
        async () => {
          const first = (await gql(
            'query($f: ScoringRecordFilter) { scoringRecords(filter: $f, first: 50) { pageInfo { endCursor } } }',
            { f: { taxonomyId: t } },
          )) as any;
          return gql(
            'query($f: ScoringRecordFilter, $a: String) { scoringRecords(filter: $f, first: 50, after: $a) { edges ' +
              '{ node { id } } } }',
            { f: { taxonomyId: t }, a: first.scoringRecords.pageInfo.endCursor },
          );
        },
      ],
      [
        'scoringStats: by day over 30 days',
        () =>
          gql(
            'query($f: ScoringRecordFilter) { scoringStats(filter: $f, interval: DAY) { total oodRate buckets { ' +
              'start total } } }',
            { f: { taxonomyId: t, from: dayFrom } },
          ),
      ],
      [
        'similarScoringRecords: top 10 for a text',
        () => gql('{ similarScoringRecords(text: "a photo of a dog", first: 10) { similarity } }', {}),
      ],
    ];
    const rows: Row[] = [];
    for (const [name, run] of operations) {
      await run();
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        await run();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      rows.push({
        operation: name,
        'p50 ms': times[14].toFixed(1),
        'p95 ms': times[28].toFixed(1),
        'goal p95 < 100 ms': times[28] < 100 ? 'met' : 'NOT met',
      });
    }
    const explain = async (sql: string, params: unknown[]) =>
      (await pool.query(`EXPLAIN ${sql}`, params)).rows
        .map((r) => r['QUERY PLAN'] as string)
        .filter((l) => /Index|Scan|Limit/.test(l))
        .slice(0, 3)
        .map((l) => l.trim());
    const vector = `[${Array.from(vectors.subarray(0, dim)).join(',')}]`;
    const page = await explain(
      `SELECT id FROM scoring_records r WHERE r.taxonomy_id = $1 AND r.is_ood AND r.created_at >= $2
       ORDER BY r.id DESC LIMIT 51`,
      [t, from],
    );
    const stats = await explain(
      `SELECT date_trunc('day', day) , sum(total) FROM scoring_daily_stats d
       WHERE d.taxonomy_id = $1 AND d.day >= $2 GROUP BY 1`,
      [t, dayFrom],
    );
    const similar = await explain(
      `SELECT id FROM scoring_records r WHERE r.model_id = $1
       ORDER BY r.image_embedding::vector(${dim}) <=> $2::vector(${dim}) LIMIT 10`,
      [model.id, vector],
    );
    const plans = [
      `records page: ${page.join(' / ')}`,
      `stats: ${stats.join(' / ')}`,
      `similar: ${similar.join(' / ')}`,
    ];
    return { rows, plans, seedSeconds };
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
