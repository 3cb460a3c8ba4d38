/**
 * The console and the GraphQL IDE in a real browser: Debian's Chromium driven by playwright-core
 * (nothing downloads a browser). A taxonomy is created, mined and scored through the API; then the
 * console, opened with an admin key, shows the taxonomy, the finished job, the charts and the
 * records, and with an auditor key no admin control. Every request the pages make stays on the
 * service's origin. Screenshots go to test-output/ (git-ignored) for a person to look at.
 */
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { ADMIN_KEY, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

const SCREENSHOTS = 'test-output/screenshots';
let app: TestApp;
let browser: Browser;
let auditorKey: string;
let taxonomyId: string;
/** requests the pages made to anywhere but the service */
const foreign: string[] = [];

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  app = await startTestApp({ NEGLABEL_JOB_POLL_MS: '50' });
  taxonomyId = await createMinedTaxonomy(app, 'pets');
  await app.graphql('mutation($t: ID!) { setThumbnailPolicy(taxonomyId: $t, storeThumbnails: true) { id } }', {
    t: taxonomyId,
  });
  const images = ['images/rgb224.png', 'images/rgb640x480.jpg', 'images/gray256.png'].map((f) => ({
    data: fixtureImage(f).toString('base64'),
    filename: f.split('/')[1],
  }));
  const scored = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score } }', {
    i: { taxonomyId, images },
  });
  assert.equal(scored.errors, undefined, JSON.stringify(scored.errors));
  const created = await app.graphql('mutation { createApiKey(input: { name: "audit", role: AUDITOR }) { key } }');
  auditorKey = created.data.createApiKey.key;
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
});

async function open(path: string, key: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(app.url) && !url.startsWith('data:') && !url.startsWith(`blob:${app.url}`)) foreign.push(url);
  });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${app.url}${path}`);
  await page.fill('#key', key);
  await page.press('#key', 'Enter');
  await page.dispatchEvent('#key', 'change');
  assert.deepEqual(errors, []);
  return page;
}

test('an admin sees the taxonomy, its finished job, the charts and the records', async () => {
  const page = await open('/', ADMIN_KEY);
  await page.waitForSelector('#taxonomies td:text-is("pets")');
  assert.match((await page.textContent('#taxonomies')) ?? '', /SUCCEEDED/);
  assert.match((await page.textContent('#taxonomies')) ?? '', /NEGLABEL, 2 groups/);
  assert.ok(await page.isVisible('text=New taxonomy'), 'admins may create taxonomies');
  assert.ok(await page.isVisible('button:text-is("Mine")'));
  // a taxonomy from a pasted list
  await page.fill('#new-name', 'birds');
  await page.fill('#new-labels', 'sparrow\nrobin\nowl');
  await page.click('button:text-is("Create")');
  await page.waitForSelector('#taxonomies td:text-is("birds")');
  // mine it from the console: the row follows the job live until it succeeds, pushed over a
  // WebSocket subscription (no polling)
  const pushed: string[] = [];
  page.on('websocket', (socket) => {
    if (new URL(socket.url()).pathname === '/graphql')
      socket.on('framereceived', (frame) => pushed.push(String(frame.payload)));
  });
  await page.click('#taxonomies tr:has(td:text-is("birds")) button:text-is("Mine")');
  await page.waitForSelector('#taxonomies tr:has(td:text-is("birds")) progress');
  await page.waitForSelector('#taxonomies tr:has(td:text-is("birds")) span:text-is("SUCCEEDED")', {
    timeout: 180_000,
  });
  const updates = pushed.filter((frame) => frame.includes('miningJobUpdated'));
  assert.ok(updates.length >= 2, `${updates.length} pushed updates`);
  assert.match(updates.at(-1)!, /"status":"SUCCEEDED"/);
  // the negative-set browser: search and filter the mined labels
  await page.click('#taxonomies tr:has(td:text-is("pets")) button:text-is("Negatives")');
  await page.waitForSelector('#negatives tbody tr');
  const words = await page.locator('#negatives tbody tr td:first-child').allTextContents();
  await page.fill('#negative-search', words[0]);
  await page.waitForFunction(
    (word) =>
      [...document.querySelectorAll('#negatives tbody tr td:first-child')].every((td) =>
        td.textContent!.includes(word),
      ),
    words[0],
  );
  // filters and orders run on the server over the whole set: the page shows what the API counts
  const { data: mined } = await app.graphql(
    'query($t: ID!) { taxonomy(id: $t) { latestVersion { activeNegativeSet { labels(first: 1, ' +
      'partOfSpeech: ADJECTIVE, orderBy: MAX_SIMILARITY) { totalCount edges { node { word } } } } } } }',
    { t: taxonomyId },
  );
  const adjectives = mined.taxonomy.latestVersion.activeNegativeSet.labels;
  await page.fill('#negative-search', '');
  await page.selectOption('#negative-pos', 'ADJECTIVE');
  await page.selectOption('#negative-order', 'MAX_SIMILARITY');
  await page.waitForFunction(
    (total) => document.querySelector('#negative-count')?.textContent?.startsWith(`${total.toLocaleString()} match`),
    adjectives.totalCount,
  );
  assert.equal(
    await page.locator('#negatives tbody tr td:first-child').first().textContent(),
    adjectives.edges[0].node.word,
  );
  const kinds = await page.locator('#negatives tbody tr td:nth-child(2)').allTextContents();
  assert.ok(kinds.length > 0 && kinds.every((k) => k === 'adjective'), kinds.join());
  await page.screenshot({ path: `${SCREENSHOTS}/taxonomies-admin.png`, fullPage: true });

  await app.sealer!.sealAll();
  await page.click('#tab-history');
  await page.selectOption('#history-taxonomy', { label: 'pets' });
  await page.waitForSelector('#records tbody tr');
  assert.equal(await page.locator('#records tbody tr').count(), 3);
  // each record's inclusion proof is checked in the page (WebCrypto) against the signed root
  await page.locator('#records td:has-text("✓ in checkpoint")').nth(2).waitFor();
  assert.equal(await page.locator('#records td:has-text("✓ in checkpoint")').count(), 3);
  assert.match((await page.textContent('#history')) ?? '', /3 records/);
  assert.equal(await page.locator('[data-chart] canvas').count(), 2, 'the OOD-rate chart and the histogram');
  // the charts take their share of a wide screen, and shrink back
  const chartWidths = () =>
    page.$$eval('[data-chart] .uplot', (plots) => plots.map((plot) => (plot as HTMLElement).offsetWidth));
  await page.setViewportSize({ width: 1920, height: 900 });
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-chart] .uplot')].every((plot) => (plot as HTMLElement).offsetWidth > 700),
  );
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-chart] .uplot')].every((plot) => (plot as HTMLElement).offsetWidth < 700),
  );
  assert.equal((await chartWidths()).length, 2);
  await page.screenshot({ path: `${SCREENSHOTS}/history-admin.png`, fullPage: true });

  // the view and its filters are in the URL: a link opens the same records, the back button returns
  await page.selectOption('#history-decision', 'OOD');
  await page.waitForFunction(() => location.hash.includes('decision=OOD'));
  const link = new URL(page.url());
  assert.equal(link.hash, `#/history?taxonomy=${taxonomyId}&decision=OOD`);
  await page.goBack();
  await page.waitForFunction(() => (document.querySelector('#history-decision') as HTMLSelectElement)?.value === '');
  assert.equal(await page.inputValue('#history-taxonomy'), taxonomyId);
  const { data: oodRecords } = await app.graphql(
    'query($t: ID!) { scoringRecords(filter: { taxonomyId: $t, decision: OOD }) { edges { node { id } } } }',
    { t: taxonomyId },
  );
  const linked = await open(`/${link.hash}`, ADMIN_KEY);
  await linked.waitForSelector('#tab-history.active');
  assert.equal(await linked.inputValue('#history-decision'), 'OOD');
  assert.equal(await linked.inputValue('#history-taxonomy'), taxonomyId);
  const shown = oodRecords.scoringRecords.edges.length;
  if (shown > 0) await linked.waitForSelector('#records tbody tr');
  assert.equal(await linked.locator('#records tbody tr').count(), shown);
  await linked.close();

  await page.click('#tab-audit');
  await page.waitForSelector('#audit td:text-is("createTaxonomy")');
  // details read as key: value, taxonomies by name, not escaped JSON and ids
  const audit = (await page.textContent('#audit')) ?? '';
  assert.match(audit, /taxonomyId: pets/);
  assert.doesNotMatch(audit, /\\"/);
  assert.match((await page.textContent('#checkpoint')) ?? '', /Checkpoint of \d+ records and audit entries/);
  await page.screenshot({ path: `${SCREENSHOTS}/audit-admin.png`, fullPage: true });
  const download = page.waitForEvent('download');
  await page.click('text=Download the log (JSON Lines)');
  assert.equal((await download).suggestedFilename(), 'neglabel-history-log.jsonl');
  await page.click('#tab-scoring');
  await page.waitForSelector('#scoring');
  await page.selectOption('#score-taxonomy', { label: 'pets' });
  await page.selectOption('#calibrate-taxonomy', { label: 'pets' });
  // one bad file among good ones: it gets its own error, the others their scores and previews
  await page.setInputFiles('#scoring input[type=file]', [
    { name: 'dropped.png', mimeType: 'image/png', buffer: fixtureImage('images/rgb224.png') },
    { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') },
  ]);
  await page.waitForSelector('#score-summary');
  assert.equal(
    await page.textContent('#score-summary'),
    '1 scored and recorded, 1 could not be scored (nothing recorded for it)',
  );
  const rows = await page.$$eval('#score-results tbody tr', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
  );
  assert.equal(rows[0][0], 'dropped.png');
  assert.match(rows[0][2], /^(ID|OOD)score 0\.\d{4} [<≥] threshold 0\.5000$/);
  assert.deepEqual([rows[1][0], rows[1][2]], ['logo.svg', 'INVALID_IMAGE']);
  assert.match(rows[1][3], /^images\[1\] \(logo\.svg\): /);
  const preview = await page.$eval(
    '#score-results tbody tr img.preview',
    (img) => (img as HTMLImageElement).naturalWidth,
  );
  assert.equal(preview, 224, 'the preview shows the dropped image');
  await page.screenshot({ path: `${SCREENSHOTS}/scoring-admin.png`, fullPage: true });
  // calibration on known-ID images: the threshold and its rate, then applied
  await page.setInputFiles(
    '#calibrate-taxonomy ~ * input[type=file], section:has(#calibrate-taxonomy) input[type=file]',
    [
      { name: 'a.png', mimeType: 'image/png', buffer: fixtureImage('images/rgb224.png') },
      { name: 'b.jpg', mimeType: 'image/jpeg', buffer: fixtureImage('images/rgb640x480.jpg') },
    ],
  );
  await page.waitForSelector('#calibration:has-text("keeps")');
  // the change it proposes, in its space, and a warning: two images are far too few
  assert.match((await page.textContent('#calibration-change')) ?? '', /^current 0\.5000 \(score\) → proposed \d/);
  assert.match((await page.textContent('#calibration-warning')) ?? '', /Only 2 images/);
  assert.match((await page.textContent('#calibration')) ?? '', /95 % interval/);
  await page.selectOption('#calibrate-space', 'LOGIT_SCORE');
  const proposedIn = (space: string) =>
    page.waitForFunction(
      (wanted) => document.querySelector('#calibration-change')?.textContent?.endsWith(`(${wanted})`),
      space,
    );
  await proposedIn('logit score');
  await page.selectOption('#calibrate-space', 'SCORE');
  await proposedIn('score');
  await page.click('#calibration button');
  await page.waitForSelector('#calibration:has-text("applied")');
  assert.match((await page.textContent('#calibration-change')) ?? '', /^was 0\.5000 \(score\) → now /);
  const { data } = await app.graphql('{ taxonomies { edges { node { name defaultThreshold } } } }');
  const pets = data.taxonomies.edges.find((e: { node: { name: string } }) => e.node.name === 'pets').node;
  assert.notEqual(pets.defaultThreshold, 0.5, 'the threshold was applied');
  await page.screenshot({ path: `${SCREENSHOTS}/scoring-admin.png`, fullPage: true });
  assert.deepEqual(foreign, []);
});

test('an auditor sees the history and the audit log, and no admin or scoring control', async () => {
  const page = await open('/', auditorKey);
  await page.waitForSelector('#taxonomies td:text-is("pets")');
  const tabs = await page.locator('nav button').allTextContents();
  assert.deepEqual(tabs, ['Taxonomies', 'History', 'Audit log']);
  assert.equal(await page.locator('button:text-is("Mine")').count(), 0);
  assert.equal(await page.locator('button:text-is("Cancel")').count(), 0);
  assert.equal(await page.locator('text=New taxonomy').count(), 0);
  await page.screenshot({ path: `${SCREENSHOTS}/taxonomies-auditor.png`, fullPage: true });
  // auditors read the records with their thumbnails
  await page.click('#tab-history');
  await page.selectOption('#history-taxonomy', { label: 'pets' });
  await page.waitForSelector('#records img.thumbnail');
  // every record of pets has one (the three scored above, and any the admin dropped in the console)
  const rows = await page.locator('#records tbody tr').count();
  assert.ok(rows >= 3);
  assert.equal(await page.locator('#records img.thumbnail').count(), rows);
  await page.screenshot({ path: `${SCREENSHOTS}/history-auditor.png`, fullPage: true });
  assert.deepEqual(foreign, []);
});

test('the GraphQL IDE loads from the service itself and runs a query with the typed key', async () => {
  const page = await open('/graphql', ADMIN_KEY);
  await page.waitForSelector('.graphiql-container');
  const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('{ me { name role } }');
  await page.click('.graphiql-execute-button');
  await page.waitForSelector('.result-window .CodeMirror-code:has-text("ADMIN")');
  await page.screenshot({ path: `${SCREENSHOTS}/graphiql.png` });
  assert.deepEqual(foreign, []);
});
