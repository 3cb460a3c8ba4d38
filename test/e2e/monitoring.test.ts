/**
 * Monitoring people can alert on: /metrics counts decisions and scores per taxonomy, the alert
 * rules in docs/monitoring pass promtool (Debian's prometheus package) and its unit tests, and
 * every metric the rules and the Grafana dashboard read is one a running service exports.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_KEY, base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

const MONITORING = path.resolve('docs/monitoring');

let app: TestApp;
before(async () => {
  app = await startTestApp();
});
after(() => app.close());

function promtool(...args: string[]): string {
  const run = spawnSync('promtool', args, { cwd: MONITORING, encoding: 'utf8' });
  assert.ok(
    !run.error,
    `promtool could not run (${run.error?.message}): install Debian's prometheus package (apt-get install ` +
      'prometheus; .ci/run does)',
  );
  assert.equal(run.status, 0, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`);
  return run.stdout + run.stderr;
}

async function scrape(): Promise<string> {
  const response = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(response.status, 200);
  return response.text();
}

/** The value of one series in a scrape, or 0 when it is absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('decisions and scores are counted per taxonomy, as the history records them', async () => {
  const taxonomyId = await createMinedTaxonomy(app, 'monitored pets');
  const images = ['images/rgb224.png', 'images/gray256.png', 'images/rgb640x480.jpg'].map((file) => ({
    data: base64(fixtureImage(file)),
  }));
  const start = await scrape();
  const scored = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score isOOD } }', {
    i: { taxonomyId, images, threshold: 0.5 },
  });
  assert.equal(scored.errors, undefined, JSON.stringify(scored.errors));
  const results: Array<{ score: number; isOOD: boolean }> = scored.data.scoreImages;
  const text = await scrape();
  const delta = (series: string) => sample(text, series) - sample(start, series);
  const ood = results.filter((r) => r.isOOD).length;
  assert.equal(delta('neglabel_scoring_decisions_total{taxonomy="monitored pets",decision="OOD"}'), ood);
  assert.equal(delta('neglabel_scoring_decisions_total{taxonomy="monitored pets",decision="ID"}'), 3 - ood);
  assert.equal(delta('neglabel_scoring_score_count{taxonomy="monitored pets"}'), 3);
  const sum = delta('neglabel_scoring_score_sum{taxonomy="monitored pets"}');
  const expected = results.reduce((total, r) => total + r.score, 0);
  assert.ok(Math.abs(sum - expected) < 1e-9, `score sum ${sum}, expected ${expected}`);
  const belowHalf = results.filter((r) => r.score <= 0.5).length;
  assert.equal(delta('neglabel_scoring_score_bucket{le="0.5",taxonomy="monitored pets"}'), belowHalf);

  // a replayed request (same idempotency key) writes nothing and counts nothing
  const once = { i: { taxonomyId, images: images.slice(0, 1), idempotencyKey: 'monitoring-1' } };
  const query = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }';
  await app.graphql(query, once);
  const afterFirst = await scrape();
  const replay = await app.graphql(query, once);
  assert.equal(replay.errors, undefined, JSON.stringify(replay.errors));
  const afterReplay = await scrape();
  const count = 'neglabel_scoring_score_count{taxonomy="monitored pets"}';
  assert.equal(sample(afterReplay, count), sample(afterFirst, count));
});

test('the alert rules pass promtool and its unit tests (an OOD-rate jump fires, a steady rate does not)', () => {
  assert.match(promtool('check', 'rules', 'alerts.yml'), /SUCCESS: 6 rules found/);
  assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
});

test('every metric the alert rules and the Grafana dashboard read is exported by the service', async () => {
  // every declared metric, sampled yet or not (a shed counter is empty until work is shed)
  const exported = new Set<string>();
  for (const [, name, type] of (await scrape()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name);
    if (type === 'histogram') for (const part of ['bucket', 'sum', 'count']) exported.add(`${name}_${part}`);
  }
  const rules = readFileSync(path.join(MONITORING, 'alerts.yml'), 'utf8');
  const dashboard = JSON.parse(readFileSync(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const recorded = new Set([...rules.matchAll(/- record: (\S+)/g)].map((m) => m[1]));
  const read = [rules, ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))]
    // recorded series (taxonomy:neglabel_…:rate1h) are the rules' own, not the service's
    .map((text) => [...recorded].reduce((rest, name) => rest.replaceAll(name, ''), text))
    .flatMap((text) => [...text.matchAll(/\b(neglabel_[a-z_]+)\b/g)].map((m) => m[1]));
  assert.ok(read.length > 10, `metric names found: ${read}`);
  for (const name of new Set(read)) assert.ok(exported.has(name), `${name} is read but not exported`);
  for (const panel of dashboard.panels) assert.ok(panel.targets.length > 0, `panel ${panel.title} has a query`);
});
