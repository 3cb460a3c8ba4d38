/**
 * Key management in the console, in Debian's Chromium: a service with no key yet (open mode) opens
 * on "create your admin key first"; the admin key is shown once and the console goes on with it
 * (open mode is over); then a scorer key limited to one taxonomy is created, listed with the
 * taxonomy's name, and revoked. Screenshots go to test-output/ for a person to look at.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const SCREENSHOTS = 'test-output/screenshots';
let app: TestApp;
let browser: Browser;
let dataDir: string;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'neglabel-console-keys-'));
  // no NEGLABEL_ADMIN_KEY: the service runs open on loopback until a key exists
  app = await startTestApp({ NEGLABEL_ADMIN_KEY: '', NEGLABEL_DATA_DIR: dataDir });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('open mode asks for the admin key first, shows it once, then keys are created, scoped and revoked', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('dialog', (dialog) => dialog.accept());
  await page.goto(`${app.url}/`);
  await page.waitForSelector('#keys-create h2:text-is("Create your admin key first")');
  assert.match((await page.textContent('#identity')) ?? '', /open mode/);
  await page.screenshot({ path: `${SCREENSHOTS}/keys-open-mode.png`, fullPage: true });

  await page.fill('#key-name', 'ops');
  await page.click('button:text-is("Create key")');
  await page.waitForSelector('#key-shown');
  const adminKey = (await page.textContent('#new-key'))!;
  assert.match(adminKey, /^nl_/);
  assert.match((await page.textContent('#key-shown')) ?? '', /shown this once/);
  // open mode is over, for the console too: it now acts with the new key
  await page.waitForFunction(() => document.getElementById('identity')?.textContent === 'ops (admin)');
  assert.equal(await page.inputValue('#key'), adminKey);
  const me = await app.graphql('{ me { name openMode } }', undefined, { authorization: `Bearer ${adminKey}` });
  assert.deepEqual(me.data.me, { name: 'ops', openMode: false });
  await page.screenshot({ path: `${SCREENSHOTS}/keys-admin-created.png`, fullPage: true });

  // a taxonomy to limit a key to, then the key
  const created = await app.graphql(
    'mutation { createTaxonomy(input: { name: "cameras", labels: ["cat", "dog"] }) { id } }',
    undefined,
    { authorization: `Bearer ${adminKey}` },
  );
  const cameras = created.data.createTaxonomy.id;
  // the view drawn again knows the new taxonomy (a scope to choose)
  await page.click('#tab-keys');
  await page.waitForSelector('#key-scope option:text-is("cameras")');
  assert.equal(await page.locator('#keys td:text-is("ops")').count(), 1);
  await page.fill('#key-name', 'camera-service');
  await page.selectOption('#key-role', 'SCORER');
  await page.selectOption('#key-scope', [cameras]);
  await page.click('button:text-is("Create key")');
  await page.waitForSelector('#keys td:text-is("camera-service")');
  const row = page.locator('#keys tr:has(td:text-is("camera-service"))');
  assert.match((await row.textContent()) ?? '', /scorer.*cameras/);
  const scorerKey = (await page.textContent('#new-key'))!;
  const scorer = await app.graphql('{ me { role } }', undefined, { authorization: `Bearer ${scorerKey}` });
  assert.equal(scorer.data.me.role, 'SCORER');
  for (const width of [390, 1280, 1920]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${SCREENSHOTS}/keys-${width}.png`, fullPage: true });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(sideways <= 0, `the page scrolls ${sideways} px sideways at ${width} px`);
  }

  await row.locator('button:text-is("Revoke")').click();
  await page.waitForSelector('#keys tr:has(td:text-is("camera-service")) span:text-is("revoked")');
  const refused = await app.graphql('{ me { role } }', undefined, { authorization: `Bearer ${scorerKey}` });
  assert.equal(refused.errors?.[0].extensions.code, 'UNAUTHENTICATED');
  assert.deepEqual(errors, []);
});
