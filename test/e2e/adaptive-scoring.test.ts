/**
 * Adaptive scoring through GraphQL on the real service. The oracle recomputes each adaptive score
 * from what the database stores (embeddings, scores, callers) and the snapshot the answer names,
 * following the rule as ../shared/docs/beyond-neglabel.md states it, with none of the service's
 * memory code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { mulberry32 } from '../../src/neglabel/random.ts';
import { createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';

const POLICY = { maxSize: 12, maxFraction: 0.5, maxCallerShare: 0.5 };
let app: TestApp;
let taxonomyId: string;
let scorerKey: string;

before(async () => {
  app = await startTestApp({
    NEGLABEL_MEMORY_SIZE: String(POLICY.maxSize),
    NEGLABEL_MEMORY_FRACTION: String(POLICY.maxFraction),
    NEGLABEL_MEMORY_CALLER_SHARE: String(POLICY.maxCallerShare),
  });
  taxonomyId = await createMinedTaxonomy(app, 'adaptive');
  const created = await app.graphql(
    'mutation { createApiKey(input: { name: "second-scorer", role: SCORER }) { key } }',
  );
  scorerKey = created.data.createApiKey.key;
});
after(() => app.close());

/** Distinct small noise images, seeded. */
async function images(count: number, seed: number): Promise<Array<{ data: string }>> {
  const random = mulberry32(seed);
  return Promise.all(
    Array.from({ length: count }, async () => {
      const pixels = Buffer.from(Array.from({ length: 16 * 16 * 3 }, () => Math.floor(random() * 256)));
      const png = await sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } })
        .png()
        .toBuffer();
      return { data: png.toString('base64') };
    }),
  );
}

interface Scored {
  score: number;
  adaptiveScore: number | null;
  memorySnapshotId: string | null;
  memorySize: number | null;
  isOOD: boolean;
  threshold: number;
  thresholdSpace: string;
  recordId: string;
}

async function score(imgs: Array<{ data: string }>, extra: Record<string, unknown> = {}, key?: string) {
  const { data, errors } = await app.graphql(
    'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score adaptiveScore memorySnapshotId memorySize ' +
      'isOOD threshold thresholdSpace recordId } }',
    { i: { taxonomyId, images: imgs, ...extra } },
    key ? { authorization: `Bearer ${key}` } : {},
  );
  assert.equal(errors, undefined, JSON.stringify(errors));
  return data.scoreImages as Scored[];
}

/** The rule, from the stored history: recomputes c5 for a record against a snapshot. */
async function oracleAdaptiveScore(recordId: string, snapshotId: string): Promise<{ value: number; size: number }> {
  const pool = app.database.pool;
  const {
    rows: [target],
  } = await pool.query(
    'SELECT taxonomy_version_id, negative_set_id, model_id, score, image_embedding::text AS e FROM scoring_records ' +
      'WHERE id = $1',
    [recordId],
  );
  const { rows } = await pool.query(
    `SELECT id, caller, image_embedding::text AS e FROM scoring_records
     WHERE taxonomy_version_id = $1 AND negative_set_id = $2 AND model_id = $3 AND id <= $4 ORDER BY score, id`,
    [target.taxonomy_version_id, target.negative_set_id, target.model_id, snapshotId],
  );
  const quota = quotasOf(rows);
  const memory: number[][] = [];
  const taken: Record<string, number> = {};
  for (const row of rows) {
    if ((taken[row.caller] ?? 0) === quota[row.caller]) continue;
    taken[row.caller] = (taken[row.caller] ?? 0) + 1;
    memory.push(JSON.parse(row.e).map(Math.fround));
  }
  // the stored vectors are float32: read them as such
  const image: number[] = JSON.parse(target.e).map(Math.fround);
  const cosines = memory.map((m) => m.reduce((s, v, d) => s + v * image[d], 0)).sort((a, b) => b - a);
  return { value: target.score - (cosines.length < 5 ? 0 : cosines[4]), size: memory.length };
}

/**
 * Each caller's share of the memory as the README states the rule: ⌊maxFraction × its records⌋, at
 * most maxCallerShare × maxSize, all lowered to one common level while they add up to more than
 * maxSize.
 */
function quotasOf(rows: Array<{ caller: string }>): Record<string, number> {
  const cap = Math.floor(POLICY.maxCallerShare * POLICY.maxSize);
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.caller] = (counts[r.caller] ?? 0) + 1;
  const wanted = Object.entries(counts).map(
    ([caller, n]) => [caller, Math.min(cap, Math.floor(POLICY.maxFraction * n))] as const,
  );
  let level = cap;
  while (wanted.reduce((sum, [, q]) => sum + Math.min(q, level), 0) > POLICY.maxSize) level--;
  return Object.fromEntries(wanted.map(([caller, q]) => [caller, Math.min(q, level)]));
}

async function memoryState(key?: string) {
  const { data, errors } = await app.graphql(
    'query($t: ID!) { adaptiveMemory(taxonomyId: $t) { snapshotId frozen eligible capacity size maxSize ' +
      'maxFraction maxCallerShare contributors { caller count } } }',
    { t: taxonomyId },
    key ? { authorization: `Bearer ${key}` } : {},
  );
  return { data: data?.adaptiveMemory, errors };
}

test('adaptive scores are reproducible from the stored history and the snapshot they name', async () => {
  const first = await score(await images(6, 1), { adaptive: true });
  // an empty history: no memory, no penalty, and the static score is returned beside it
  for (const r of first) {
    assert.equal(r.memorySize, 0);
    assert.equal(r.memorySnapshotId, '0');
    assert.equal(r.adaptiveScore, r.score);
  }
  await score(await images(20, 2));
  await score(await images(10, 3), {}, scorerKey);
  const adaptive = await score(await images(5, 4), { adaptive: true });
  const latestBefore = Math.min(...adaptive.map((r) => Number(r.recordId))) - 1;
  for (const r of adaptive) {
    // the memory is what was committed before the request: never its own images
    assert.equal(r.memorySnapshotId, String(latestBefore));
    const oracle = await oracleAdaptiveScore(r.recordId, r.memorySnapshotId!);
    assert.equal(r.memorySize, oracle.size);
    assert.ok(oracle.size >= 5, `memory of ${oracle.size}`);
    assert.ok(Math.abs(r.adaptiveScore! - oracle.value) < 1e-9, `${r.adaptiveScore} vs ${oracle.value}`);
    assert.notEqual(r.adaptiveScore, r.score, 'a memory of 5 or more gives a penalty');
  }
  // the record keeps the static and the adaptive score and the snapshot
  const { data } = await app.graphql(
    'query($id: ID!) { scoringRecord(id: $id) { score adaptiveScore memorySnapshotId memorySize } }',
    { id: adaptive[0].recordId },
  );
  assert.deepEqual(data.scoringRecord, {
    score: adaptive[0].score,
    adaptiveScore: adaptive[0].adaptiveScore,
    memorySnapshotId: adaptive[0].memorySnapshotId,
    memorySize: adaptive[0].memorySize,
  });

  // one key fills at most its cap: admin scored most of the history, yet holds half the memory at most
  const state = await memoryState();
  const total = state.data.contributors.reduce((sum: number, c: { count: number }) => sum + c.count, 0);
  assert.ok(state.data.capacity <= POLICY.maxSize && total <= state.data.capacity);
  for (const c of state.data.contributors)
    assert.ok(c.count <= Math.floor(POLICY.maxCallerShare * POLICY.maxSize), JSON.stringify(c));
  assert.deepEqual(
    { maxSize: state.data.maxSize, maxFraction: state.data.maxFraction, maxCallerShare: state.data.maxCallerShare },
    POLICY,
  );
  const forbidden = await memoryState(scorerKey);
  assert.equal(forbidden.errors?.[0].extensions.code, 'FORBIDDEN');

  // other taxonomies never enter this memory
  const other = await createMinedTaxonomy(app, 'adaptive-other');
  const before = (await memoryState()).data;
  const { errors } = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }', {
    i: { taxonomyId: other, images: await images(8, 5) },
  });
  assert.equal(errors, undefined);
  assert.deepEqual((await memoryState()).data, before);
});

test('an admin freezes the memory and rolls it back; both audited; a rolled-back score repeats exactly', async () => {
  const probe = await images(1, 42);
  const [atFirst] = await score(probe, { adaptive: true });
  const early = atFirst.memorySnapshotId!;
  await score(await images(12, 6));
  const frozen = await app.graphql(
    'mutation($t: ID!) { freezeAdaptiveMemory(taxonomyId: $t) { memoryFrozenSnapshotId } }',
    { t: taxonomyId },
  );
  const frozenAt = frozen.data.freezeAdaptiveMemory.memoryFrozenSnapshotId;
  await score(await images(6, 7));
  const [whileFrozen] = await score(probe, { adaptive: true });
  assert.equal(whileFrozen.memorySnapshotId, frozenAt);
  assert.equal((await memoryState()).data.frozen, true);

  const rolledBack = await app.graphql(
    'mutation($t: ID!, $s: ID) { freezeAdaptiveMemory(taxonomyId: $t, snapshotId: $s) { memoryFrozenSnapshotId } }',
    { t: taxonomyId, s: early },
  );
  assert.equal(rolledBack.data.freezeAdaptiveMemory.memoryFrozenSnapshotId, early);
  const [again] = await score(probe, { adaptive: true });
  assert.equal(again.memorySnapshotId, early);
  assert.equal(again.adaptiveScore, atFirst.adaptiveScore);
  assert.equal(again.memorySize, atFirst.memorySize);

  const unfrozen = await app.graphql(
    'mutation($t: ID!) { unfreezeAdaptiveMemory(taxonomyId: $t) { memoryFrozenSnapshotId } }',
    { t: taxonomyId },
  );
  assert.equal(unfrozen.data.unfreezeAdaptiveMemory.memoryFrozenSnapshotId, null);
  const [following] = await score(probe, { adaptive: true });
  assert.equal(Number(following.memorySnapshotId), Number(following.recordId) - 1);

  const log = await app.graphql('{ auditLog(first: 10) { edges { node { action target } } } }');
  const actions = log.data.auditLog.edges.map((e: { node: { action: string; target: string } }) => e.node);
  assert.deepEqual(
    actions
      .filter((a: { action: string }) => a.action.endsWith('AdaptiveMemory'))
      .map((a: { action: string }) => a.action),
    ['unfreezeAdaptiveMemory', 'freezeAdaptiveMemory', 'freezeAdaptiveMemory'],
  );

  // refused: a snapshot beyond the history, a scorer freezing
  const beyond = await app.graphql(
    'mutation($t: ID!) { freezeAdaptiveMemory(taxonomyId: $t, snapshotId: "999999999") { id } }',
    { t: taxonomyId },
  );
  assert.equal(beyond.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  const scorer = await app.graphql(
    'mutation($t: ID!) { freezeAdaptiveMemory(taxonomyId: $t) { id } }',
    { t: taxonomyId },
    { authorization: `Bearer ${scorerKey}` },
  );
  assert.equal(scorer.errors?.[0].extensions.code, 'FORBIDDEN');
  assert.equal((await memoryState()).data.frozen, false);
});

test('an adaptive threshold is calibrated apart and decides adaptive requests only; evaluate measures it', async () => {
  const idImages = await images(10, 8);
  const calibrated = await app.graphql(
    'mutation($i: CalibrateThresholdInput!) { calibrateThreshold(input: $i) { threshold space applied ' +
      'memorySnapshotId memorySize } }',
    { i: { taxonomyId, images: idImages, adaptive: true, apply: true } },
  );
  assert.equal(calibrated.errors, undefined, JSON.stringify(calibrated.errors));
  const calibration = calibrated.data.calibrateThreshold;
  assert.equal(calibration.space, 'ADAPTIVE_SCORE');
  assert.ok(calibration.memorySize >= 5);
  const { data } = await app.graphql('query($t: ID!) { taxonomy(id: $t) { defaultThreshold adaptiveThreshold } }', {
    t: taxonomyId,
  });
  assert.equal(data.taxonomy.adaptiveThreshold, calibration.threshold);
  assert.equal(data.taxonomy.defaultThreshold, 0.5, 'the static threshold is untouched');

  const [adaptive] = await score(idImages.slice(0, 1), { adaptive: true });
  assert.equal(adaptive.thresholdSpace, 'ADAPTIVE_SCORE');
  assert.equal(adaptive.threshold, calibration.threshold);
  assert.equal(adaptive.isOOD, adaptive.adaptiveScore! < calibration.threshold);
  const [staticOne] = await score(idImages.slice(0, 1));
  assert.equal(staticOne.thresholdSpace, 'SCORE');
  assert.equal(staticOne.adaptiveScore, null);

  const countBefore = await app.database.pool.query('SELECT count(*)::int AS n FROM scoring_records');
  const evaluated = await app.graphql(
    'mutation($i: EvaluateInput!) { evaluate(input: $i) { adaptive memorySnapshotId memorySize idScores oodScores ' +
      'auroc } }',
    { i: { taxonomyId, idImages: idImages.slice(0, 4), oodImages: await images(4, 9), adaptive: true } },
  );
  assert.equal(evaluated.errors, undefined, JSON.stringify(evaluated.errors));
  const evaluation = evaluated.data.evaluate;
  assert.equal(evaluation.adaptive, true);
  const [again] = await score(idImages.slice(0, 1), { adaptive: true });
  // the same memory (evaluate added nothing to it), so the same adaptive score up to the batch's float rounding
  assert.equal(again.memorySnapshotId, evaluation.memorySnapshotId);
  assert.ok(Math.abs(evaluation.idScores[0] - again.adaptiveScore!) < 1e-6);
  const countAfter = await app.database.pool.query('SELECT count(*)::int AS n FROM scoring_records');
  assert.equal(countAfter.rows[0].n, countBefore.rows[0].n + 1, 'evaluate wrote no record');

  const refused = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }', {
    i: { taxonomyId, images: idImages.slice(0, 1), thresholdSpace: 'ADAPTIVE_SCORE' },
  });
  assert.equal(refused.errors?.[0].extensions.code, 'INVALID_PARAMETER');
});
