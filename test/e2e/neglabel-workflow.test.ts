import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN_KEY, base64, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage, reference } from '../helpers/fixtures.ts';
import { loadWordNetCorpus } from '../../src/services/corpus-source.ts';

const IMAGENET_RAW = readFileSync('test/fixtures/neglabel-reference/classnames_imagenet_classes.txt', 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
// The reference list names two different classes "missile" (and so on): a taxonomy needs unique
// names, so a repeated name gets its class index, as a user importing the list would do.
const IMAGENET = IMAGENET_RAW.map((name, i) =>
  IMAGENET_RAW.findIndex((n) => n.toLowerCase() === name.toLowerCase()) === i ? name : `${name} (class ${i})`,
);
const image = (file: string) => ({ data: base64(fixtureImage(file)), filename: file.split('/').pop() });

let app: TestApp;
let taxonomyId: string;

before(async () => {
  app = await startTestApp({ NEGLABEL_JOB_POLL_MS: '50' });
});
after(() => app.close());

async function waitForJob(id: string, timeoutMs = 600_000) {
  const started = Date.now();
  for (;;) {
    const { data, errors } = await app.graphql(
      `query($id: ID!) { miningJob(id: $id) { id status phase done total progress error attempts reused ` +
        `negativeSet { id labelCount groupCount candidateCount excludedCount active } } }`,
      { id },
    );
    assert.equal(errors, undefined);
    const job = data.miningJob;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
    if (Date.now() - started > timeoutMs) throw new Error(`job still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('ImageNet-1k taxonomy, mined over the full WordNet corpus, scores images and reads them back', async (t) => {
  const raw = await app.graphql(`mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }`, {
    i: { name: 'imagenet-1k', labels: IMAGENET_RAW },
  });
  assert.equal(raw.errors?.[0].extensions.code, 'DUPLICATE_LABEL');
  assert.equal(IMAGENET.length, 1000);
  const created = await app.graphql(
    `mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id name latestVersion { version labelCount ` +
      `promptTemplate model activeNegativeSet { id } } } }`,
    {
      i: { name: 'imagenet-1k', labels: IMAGENET },
    },
  );
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  taxonomyId = created.data.createTaxonomy.id;
  assert.deepEqual(created.data.createTaxonomy.latestVersion, {
    version: 1,
    labelCount: 1000,
    promptTemplate: 'the nice {}',
    model: 'clip-tiny-random',
    activeNegativeSet: null,
  });

  const noSet = await app.graphql(`mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }`, {
    i: { taxonomyId, images: [image('images/rgb224.png')] },
  });
  assert.equal(noSet.errors?.[0].extensions.code, 'NO_ACTIVE_NEGATIVE_SET');

  const started = performance.now();
  const { data } = await app.graphql(`mutation($i: StartMiningInput!) { startMining(input: $i) { id status phase } }`, {
    i: { taxonomyId },
  });
  assert.equal(data.startMining.status, 'QUEUED');
  const job = await waitForJob(data.startMining.id);
  t.diagnostic(
    `mining 1,000 labels over the WordNet corpus took ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  assert.equal(job.status, 'SUCCEEDED', job.error);
  const set = job.negativeSet;
  assert.ok(set.candidateCount > 69000);
  // 15 % of each part of speech of what exclusion left, trimmed to a multiple of 100 groups. (The
  // random-weight fixture model makes many prompts near-identical, so exclusion removes a lot.)
  const pool = set.candidateCount - set.excludedCount;
  assert.equal(set.labelCount % 100, 0);
  assert.ok(
    set.labelCount <= 0.15 * pool && set.labelCount > 0.15 * pool - 102,
    `labelCount ${set.labelCount} for a pool of ${pool}`,
  );
  assert.ok(set.excludedCount > 0, 'ImageNet names present in WordNet are excluded');
  assert.equal(set.active, true);
  t.diagnostic(`negatives: ${set.labelCount}, excluded as ID duplicates: ${set.excludedCount}`);

  const labels = await app.graphql(
    `query($id: ID!) { negativeLabelSet(id: $id) { labels(first: 3) { totalCount edges { cursor node { rank word ` +
      `prompt partOfSpeech quantileSimilarity group } } pageInfo { hasNextPage endCursor } } } }`,
    { id: set.id },
  );
  const page = labels.data.negativeLabelSet.labels;
  assert.equal(page.totalCount, set.labelCount);
  assert.deepEqual(
    page.edges.map((e: any) => e.node.rank),
    [0, 1, 2],
  );
  assert.equal(page.edges[0].node.partOfSpeech, 'NOUN');
  assert.ok(page.edges[0].node.quantileSimilarity <= page.edges[1].node.quantileSimilarity);
  assert.equal(page.edges[0].node.prompt, `the nice ${page.edges[0].node.word}`);

  // the browser's filters and orders run on the server over all of the set, checked against the
  // whole set read in set order and filtered here
  type LabelNode = { rank: number; word: string; partOfSpeech: string; maxSimilarity: number };
  type LabelConnection = {
    totalCount: number;
    edges: { node: LabelNode }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
  const walk = async (args: string, first = 1000) => {
    const nodes: LabelNode[] = [];
    let after: string | null = null;
    let totalCount = 0;
    do {
      const result: { data?: { negativeLabelSet: { labels: LabelConnection } }; errors?: unknown } = await app.graphql(
        `query($id: ID!, $after: String) { negativeLabelSet(id: $id) { ` +
          `labels(first: ${first}, after: $after, ${args}) { ` +
          'totalCount edges { node { rank word partOfSpeech maxSimilarity } } pageInfo { hasNextPage endCursor } } } }',
        { id: set.id, after },
      );
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      const connection = result.data!.negativeLabelSet.labels;
      nodes.push(...connection.edges.map((e) => e.node));
      totalCount = connection.totalCount;
      after = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
    } while (after);
    return { nodes, totalCount };
  };
  const all = (await walk('orderBy: RANK')).nodes;
  assert.equal(all.length, set.labelCount);
  const adjectives = await walk('partOfSpeech: ADJECTIVE, orderBy: MAX_SIMILARITY');
  const expectedAdjectives = all.filter((n) => n.partOfSpeech === 'ADJECTIVE');
  assert.ok(expectedAdjectives.length > 0);
  assert.equal(adjectives.totalCount, expectedAdjectives.length);
  assert.equal(adjectives.nodes.length, expectedAdjectives.length, 'pages neither skip nor repeat');
  assert.equal(new Set(adjectives.nodes.map((n) => n.rank)).size, expectedAdjectives.length);
  const mostSimilar = Math.max(...expectedAdjectives.map((n) => n.maxSimilarity));
  assert.equal(adjectives.nodes[0].maxSimilarity, mostSimilar);
  for (let i = 1; i < adjectives.nodes.length; i++)
    assert.ok(adjectives.nodes[i - 1].maxSimilarity >= adjectives.nodes[i].maxSimilarity);
  const searched = await walk('search: "AT", orderBy: WORD', 50);
  const expectedWords = all
    .filter((n) => n.word.toLowerCase().includes('at'))
    .map((n) => n.word.toLowerCase())
    .sort();
  assert.ok(expectedWords.length > 50, 'the search spans more than one page');
  assert.equal(searched.totalCount, expectedWords.length);
  assert.deepEqual(
    searched.nodes.map((n) => n.word.toLowerCase()),
    expectedWords,
  );
  const wildcard = await walk('search: "%"');
  assert.equal(wildcard.totalCount, all.filter((n) => n.word.includes('%')).length, '% is a character, not a pattern');

  const scorer = await app.graphql(`mutation { createApiKey(input: { name: "e2e-suite", role: SCORER }) { key } }`);
  const scorerKey = scorer.data.createApiKey.key;
  const files = ['images/rgb224.png', 'images/rgb640x480.jpg', 'images/gray256.png'];
  const scored = await app.graphql(
    `mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { index filename score logitScore isOOD threshold ` +
      `predictedLabel topLabels { label similarity prompt } topNegatives { label prompt similarity } recordId ` +
      `imageHash } }`,
    {
      i: { taxonomyId, images: files.map(image), threshold: 0.5, topK: 3 },
    },
    { authorization: `Bearer ${scorerKey}` },
  );
  assert.equal(scored.errors, undefined, JSON.stringify(scored.errors));
  const results = scored.data.scoreImages;
  assert.equal(results.length, 3);
  for (const r of results) {
    assert.ok(r.score > 0 && r.score < 1);
    assert.equal(r.isOOD, r.score < 0.5);
    assert.equal(r.topLabels.length, 3);
    assert.equal(r.predictedLabel, r.topLabels[0].label);
    assert.ok(IMAGENET.includes(r.predictedLabel));
    // negatives come back as the words mined, with the text encoded for each beside it
    for (const negative of r.topNegatives) {
      assert.doesNotMatch(negative.label, /^(the nice |This is a )/);
      assert.match(negative.prompt, /^(the nice |This is a )/);
      assert.ok(negative.prompt.includes(negative.label), `${negative.prompt} encodes ${negative.label}`);
    }
    assert.ok(
      r.topLabels.every((m: { prompt: string | null }) => m.prompt === null),
      'ID labels have no single prompt',
    );
  }

  const history = await app.graphql(
    `{ scoringRecords(filter: { caller: "e2e-suite" }, first: 2) { edges { cursor node { id caller score ` +
      `predictedLabel taxonomyVersion negativeSetId model threshold topNegatives { label prompt } } } pageInfo { ` +
      `hasNextPage endCursor } } }`,
  );
  const edges = history.data.scoringRecords.edges;
  assert.equal(edges.length, 2);
  assert.equal(edges[0].node.id, results[2].recordId, 'newest first');
  assert.equal(edges[0].node.negativeSetId, set.id);
  assert.equal(edges[0].node.taxonomyVersion, 1);
  assert.equal(edges[0].node.threshold, 0.5);
  assert.deepEqual(
    edges[0].node.topNegatives[0],
    { label: results[2].topNegatives[0].label, prompt: results[2].topNegatives[0].prompt },
    'the history keeps both',
  );
  const next = await app.graphql(
    `query($a: String) { scoringRecords(filter: { caller: "e2e-suite" }, first: 2, after: $a) { edges { node { id ` +
      `} } pageInfo { hasNextPage } } }`,
    { a: history.data.scoringRecords.pageInfo.endCursor },
  );
  assert.deepEqual(
    next.data.scoringRecords.edges.map((e: any) => e.node.id),
    [results[0].recordId],
  );
  assert.equal(next.data.scoringRecords.pageInfo.hasNextPage, false);

  const stats = await app.graphql(
    `query($f: ScoringRecordFilter) { scoringStats(filter: $f, interval: HOUR, histogramBins: 4) { total oodCount ` +
      `oodRate meanScore histogram { lower upper count } buckets { start total oodCount } } }`,
    { f: { taxonomyId } },
  );
  const s = stats.data.scoringStats;
  assert.equal(s.total, 3);
  assert.equal(s.oodCount, results.filter((r: any) => r.isOOD).length);
  assert.equal(
    s.histogram.reduce((a: number, b: any) => a + b.count, 0),
    3,
  );
  assert.equal(s.buckets.length, 1);
  assert.ok(Math.abs(s.meanScore - results.reduce((a: number, r: any) => a + r.score, 0) / 3) < 1e-9);

  const nearest = await app.graphql(
    `query($i: ImageInput) { similarScoringRecords(image: $i, first: 2) { similarity record { id filename } } }`,
    { i: image('images/rgb640x480.jpg') },
  );
  assert.equal(nearest.errors, undefined, JSON.stringify(nearest.errors));
  assert.equal(nearest.data.similarScoringRecords[0].record.id, results[1].recordId);
  assert.ok(Math.abs(nearest.data.similarScoringRecords[0].similarity - 1) < 1e-5);
  const byText = await app.graphql(`{ similarScoringRecords(text: "a photo", first: 3) { similarity } }`);
  assert.equal(byText.data.similarScoringRecords.length, 3);

  // the taxonomy's head sits in every encoder worker (any of them may embed its next image), and
  // operators see what bounds the workers' memory
  const metrics = await (
    await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  const heads = [...metrics.matchAll(/^neglabel_encoder_worker_scoring_heads\{worker="(\d+)"\} (\d+)$/gm)];
  assert.ok(heads.length >= 1, 'one series per worker');
  assert.ok(
    heads.every(([, , count]) => Number(count) >= 1),
    heads.map((h) => h[0]).join('; '),
  );

  // the same parameters again: the finished set is reused, no new job runs
  const again = await app.graphql(
    `mutation($i: StartMiningInput!) { startMining(input: $i) { status reused negativeSet { id } } }`,
    { i: { taxonomyId } },
  );
  assert.deepEqual(again.data.startMining, { status: 'SUCCEEDED', reused: true, negativeSet: { id: set.id } });
});

test('re-mining with other parameters reuses the corpus cache and switches the active set', async () => {
  const before = app.services.encoder.stats();
  const { data } = await app.graphql(`mutation($i: StartMiningInput!) { startMining(input: $i) { id } }`, {
    i: { taxonomyId, groups: 10, seed: 7, excludeNearDuplicates: false },
  });
  const job = await waitForJob(data.startMining.id);
  assert.equal(job.status, 'SUCCEEDED', job.error);
  assert.equal(job.negativeSet.groupCount, 10);
  assert.equal(job.negativeSet.excludedCount, 0);
  // without exclusion: floor(15 %) of nouns + floor(15 %) of adjectives, less (M mod 10)
  const corpus = loadWordNetCorpus();
  const nouns = corpus.filter((w) => w.pos === 'noun').length;
  const selected = Math.floor(nouns * 0.15) + Math.floor((corpus.length - nouns) * 0.15);
  assert.equal(job.negativeSet.labelCount, selected - (selected % 10));
  assert.equal(job.negativeSet.active, true);
  assert.equal(app.services.encoder.stats().textItems - before.textItems, 0, 'no text was encoded again');
  const tax = await app.graphql(
    `query($id: ID!) { taxonomy(id: $id) { latestVersion { activeNegativeSet { id } miningJobs { id } } } }`,
    { id: taxonomyId },
  );
  assert.equal(tax.data.taxonomy.latestVersion.activeNegativeSet.id, job.negativeSet.id);
  assert.equal(tax.data.taxonomy.latestVersion.miningJobs.length, 3);
});

test('calibration and evaluation over GraphQL agree with the scores', async () => {
  const files = reference.images.slice(0, 6).map((i) => i.file);
  const cal = await app.graphql(
    `mutation($i: CalibrateThresholdInput!) { calibrateThreshold(input: $i) { threshold targetTpr achievedTpr ` +
      `imageCount applied } }`,
    {
      i: { taxonomyId, images: files.map(image), targetTpr: 0.5, apply: true },
    },
  );
  assert.equal(cal.errors, undefined, JSON.stringify(cal.errors));
  assert.equal(cal.data.calibrateThreshold.imageCount, 6);
  assert.ok(cal.data.calibrateThreshold.achievedTpr >= 0.5);
  const tax = await app.graphql(`query($id: ID!) { taxonomy(id: $id) { defaultThreshold } }`, { id: taxonomyId });
  assert.equal(tax.data.taxonomy.defaultThreshold, cal.data.calibrateThreshold.threshold);

  const ev = await app.graphql(
    `mutation($i: EvaluateInput!) { evaluate(input: $i) { auroc fpr95 auprIn auprOut idScores oodScores } }`,
    {
      i: { taxonomyId, idImages: files.slice(0, 3).map(image), oodImages: files.slice(3).map(image) },
    },
  );
  const e = ev.data.evaluate;
  let wins = 0;
  for (const a of e.idScores) for (const b of e.oodScores) wins += a > b ? 1 : a === b ? 0.5 : 0;
  assert.ok(Math.abs(e.auroc - wins / 9) < 1e-12);

  // neither writes scoring records, so the audit log is their trace: who, what, the result
  const log = (
    await app.graphql('{ auditLog(first: 5) { edges { node { actor action target details } } } }')
  ).data.auditLog.edges.map((e: any) => e.node);
  const evaluation = log.find((entry: any) => entry.action === 'evaluate');
  assert.equal(evaluation.target, taxonomyId);
  assert.deepEqual(
    {
      ...JSON.parse(evaluation.details),
      auroc: undefined,
      fpr95: undefined,
      threshold95: undefined,
      fpr95AtThreshold: undefined,
    },
    {
      taxonomyId,
      idImages: { count: 3 },
      oodImages: { count: 3 },
      auroc: undefined,
      fpr95: undefined,
      threshold95: undefined,
      fpr95AtThreshold: undefined,
    },
  );
  assert.equal(JSON.parse(evaluation.details).auroc, e.auroc);
  assert.equal(
    JSON.parse(log.find((entry: any) => entry.action === 'calibrateThreshold').details).threshold,
    cal.data.calibrateThreshold.threshold,
  );
});

test('bad input is refused with stable codes and changes nothing', async () => {
  const count = async () => (await app.graphql(`{ taxonomies(first: 100) { totalCount } }`)).data.taxonomies.totalCount;
  const records = async () => (await app.graphql(`{ scoringStats { total } }`)).data.scoringStats.total;
  const taxonomiesBefore = await count();
  const recordsBefore = await records();
  const CREATE = 'mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }';
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [CREATE, { i: { name: 'x', labels: [] } }, 'EMPTY_LABELS'],
    [CREATE, { i: { name: 'x', labels: ['cat', ' Cat '] } }, 'DUPLICATE_LABEL'],
    [CREATE, { i: { name: 'x', labels: ['cat', '   '] } }, 'EMPTY_LABEL'],
    [CREATE, { i: { name: 'x', labels: ['a\u0007b'] } }, 'INVALID_LABEL'],
    [CREATE, { i: { name: 'x', labels: ['cat'], promptTemplate: 'no slot' } }, 'INVALID_PROMPT_TEMPLATE'],
    [CREATE, { i: { name: 'imagenet-1k', labels: ['cat'] } }, 'TAXONOMY_EXISTS'],
    [CREATE, { i: { name: 'x', labels: ['cat'], model: 'nope' } }, 'MODEL_NOT_FOUND'],
    [
      'mutation($i: StartMiningInput!) { startMining(input: $i) { id } }',
      { i: { taxonomyId, percentile: 1.5 } },
      'INVALID_PARAMETER',
    ],
    [
      'mutation($i: StartMiningInput!) { startMining(input: $i) { id } }',
      { i: { taxonomyId, count: 5, groups: 10 } },
      'INVALID_PARAMETER',
    ],
    [
      'mutation($i: StartMiningInput!) { startMining(input: $i) { id } }',
      { i: { taxonomyId, count: -3 } },
      'INVALID_PARAMETER',
    ],
    [
      'mutation($i: StartMiningInput!) { startMining(input: $i) { id } }',
      { i: { taxonomyId: '00000000-0000-0000-0000-000000000000' } },
      'NOT_FOUND',
    ],
    [
      'mutation($i: StartMiningInput!) { startMining(input: $i) { id } }',
      { i: { taxonomyId, version: 99 } },
      'NOT_FOUND',
    ],
    [
      'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }',
      { i: { taxonomyId, images: [image('images/rgb224.png'), { data: base64(Buffer.from('GIF89a broken')) }] } },
      'INVALID_IMAGE',
    ],
    [
      'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }',
      { i: { taxonomyId: "'; DROP TABLE scoring_records; --", images: [image('images/rgb224.png')] } },
      'NOT_FOUND',
    ],
    ['mutation { cancelMiningJob(id: "nope") { id } }', {}, 'NOT_FOUND'],
    ['{ scoringRecords(after: "@@") { edges { cursor } } }', {}, 'INVALID_CURSOR'],
    ['{ similarScoringRecords(first: 3) { similarity } }', {}, 'INVALID_PARAMETER'],
  ];
  for (const [query, variables, code] of cases) {
    const { errors } = await app.graphql(query, variables);
    assert.equal(
      errors?.[0].extensions.code,
      code,
      `${query} ${JSON.stringify(variables).slice(0, 120)}: ${JSON.stringify(errors)}`,
    );
  }
  assert.equal(await count(), taxonomiesBefore);
  assert.equal(await records(), recordsBefore, 'a batch with one bad image records nothing');
  assert.equal((await app.graphql(`{ taxonomy(id: "not-a-uuid") { id } }`)).data.taxonomy, null);
});

test('scoring records cannot be changed or deleted, even with direct SQL', async () => {
  await assert.rejects(app.database.pool.query('UPDATE scoring_records SET score = 1'), /append-only/);
  await assert.rejects(app.database.pool.query('DELETE FROM scoring_records'), /append-only/);
});

test('a queued or running job can be cancelled and leaves no set', async () => {
  const created = await app.graphql(
    `mutation { createTaxonomy(input: { name: "cancel-me", labels: ["zebra", "yak"] }) { id } }`,
  );
  const id = created.data.createTaxonomy.id;
  const words = Array.from({ length: 30000 }, (_, i) => ({ text: `uncachedword${i}`, partOfSpeech: 'NOUN' }));
  const { data } = await app.graphql(`mutation($i: StartMiningInput!) { startMining(input: $i) { id } }`, {
    i: { taxonomyId: id, corpus: words, groups: 1 },
  });
  await app.graphql(`mutation($id: ID!) { cancelMiningJob(id: $id) { id } }`, { id: data.startMining.id });
  const job = await waitForJob(data.startMining.id);
  assert.equal(job.status, 'CANCELLED');
  assert.equal(job.negativeSet, null);
  const tax = await app.graphql(
    `query($id: ID!) { taxonomy(id: $id) { latestVersion { activeNegativeSet { id } } } }`,
    { id },
  );
  assert.equal(tax.data.taxonomy.latestVersion.activeNegativeSet, null);
});

test('a prompt-template ensemble embeds each label as the renormalized mean over its templates', async () => {
  const templates = ['a photo of a {}.', 'a drawing of a {}.', 'the nice {}'];
  const created = await app.graphql(
    'mutation($t: [String!]) { createTaxonomy(input: { name: "ensemble", labels: ["cat", "dog"], promptTemplates: ' +
      '$t }) { id latestVersion { promptTemplate promptTemplates } } }',
    { t: templates },
  );
  assert.deepEqual(created.data.createTaxonomy.latestVersion, {
    promptTemplate: templates[0],
    promptTemplates: templates,
  });
  const version = await app.services.taxonomies.latestVersion(created.data.createTaxonomy.id);
  const [cat] = await app.services.taxonomies.labelEmbeddings(version);
  const { data } = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', {
    t: templates.map((t) => t.replace('{}', 'cat')),
  });
  const mean = data.embedTexts[0].map((_: number, d: number) =>
    data.embedTexts.reduce((a: number, e: number[]) => a + e[d], 0),
  );
  const norm = Math.hypot(...mean);
  cat.forEach((v, d) => {
    assert.ok(Math.abs(v - mean[d] / norm) < 1e-5);
  });
  const bad = await app.graphql(
    'mutation { createTaxonomy(input: { name: "bad-ensemble", labels: ["cat"], promptTemplates: ["a {}", "no ' +
      'slot"] }) { id } }',
  );
  assert.equal(bad.errors?.[0].extensions.code, 'INVALID_PROMPT_TEMPLATE');
});
