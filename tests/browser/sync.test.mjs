// Browser test of the console's Site sync page (docs/sync.md): two real
// appliances on loopback, each with its own state directory and ports (like
// tests/e2e/test_sync.py), a central and a site, and Debian's Chromium
// driven by playwright-core, one page on each console.
//
// In the central's console an admin pairs a site and reads the code and the
// fingerprint from the dialog that shows them once; in the site's console
// another admin is refused with a short fingerprint (at the field) and a
// wrong one (in the appliance's words), then pairs. A person made on the
// central arrives with "sync now"; editing it at the site is refused with the
// central's address. Bundles go both ways through the browser's downloads
// and file uploads; the same bundle twice is "already applied", an altered
// one and one going the wrong way are refused with their reasons. The page
// in Japanese; a revoked pairing refuses the site's next sync. Screenshots
// go to build/screenshots/ as sync-NN-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Appliance, ApiSession, createAdmin, playwright, CHROMIUM, SCREENSHOTS, ADMIN_PASSWORD, SLOW, watchPage, ready, goTo, screenshotter,
} from './harness.mjs';

const T = { 'X-Tenant': 'default' };
const LIMITS = ['limits.api_per_second=10000', 'limits.api_burst=10000', 'limits.login_per_minute=10000', 'limits.login_burst=10000'];

let central;
let site;
let browser;
let cpage; // the central's console
let spage; // the site's console
let csetup; // system admins for the API side (one session per admin)
let ssetup;
let work;
const ids = {};
const made = {};
const problems = [];

/* --- helpers --------------------------------------------------------------------------------------- */
const watch = (p) => watchPage(p, problems);

async function newPage() {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, acceptDownloads: true,
    locale: 'en-GB', timezoneId: 'Europe/London',
  });
  const p = await ctx.newPage();
  watch(p);
  return p;
}

async function go(p, hash, route) {
  // Following a link to the page shown already draws nothing new: come back to it from the dashboard.
  if (await p.evaluate(() => location.hash) === hash) {
    await p.evaluate(() => { location.hash = '#/'; });
    await ready(p, 'dashboard');
  }
  await goTo(p, hash, route);
}

const shot = screenshotter('sync-');

const ok = (r, want = 200) => {
  assert.equal(r.status, want, JSON.stringify(r.doc).slice(0, 400));
  return r.doc;
};

/** The bootstrap admin's forced password change through the API (console.test.mjs does it in the browser). */
async function firstAdmin(app) {
  const first = new ApiSession(app, 'admin', app.bootstrapPassword());
  assert.equal((await first.login()).status, 200);
  ok(await first.call('POST', '/api/v1/session/password', { current_password: app.bootstrapPassword(), new_password: ADMIN_PASSWORD }), 204);
}

async function login(p, app) {
  await p.goto(`${app.url}/`);
  await ready(p, 'login');
  await p.fill('input[name=username]', 'admin');
  await p.fill('input[name=password]', ADMIN_PASSWORD);
  await p.click('form button[type=submit]');
  await ready(p, 'dashboard');
}

/** Every visible control has a label or an aria-label (as console.test.mjs checks for every page). */
async function assertLabelled(p) {
  const bare = await p.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.type !== 'hidden' && el.getClientRects().length)
    .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.labels && el.labels.length) ||
      (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => el.outerHTML.slice(0, 100)));
  assert.deepEqual(bare, [], 'controls without a label');
}

/** The SHA-256 of the certificate an appliance serves, as `gatehouse serve` prints it. */
function fingerprint(app) {
  return new crypto.X509Certificate(app.ca).fingerprint256;
}

/** Press "Sync now" on the site's page and wait for the run's outcome; returns its data-status. */
async function syncNow() {
  await go(spage, '#/sync', 'sync');
  await spage.click('#sync-now');
  await spage.waitForSelector('#sync-run[data-status]', { timeout: 120000 * SLOW });
  return spage.getAttribute('#sync-run', 'data-status');
}

/** Upload FILE on page P's sync page; returns the import's data-status and text. */
async function importBundle(p, file) {
  await go(p, '#/sync', 'sync');
  await p.setInputFiles('#sync-import-file', file);
  await p.click('#sync-import');
  await p.waitForSelector('#sync-import-result[data-status]', { timeout: 60000 * SLOW });
  return { status: await p.getAttribute('#sync-import-result', 'data-status'), text: await p.textContent('#sync-import-result') };
}

async function saveDownload(p, selector, name) {
  const [dl] = await Promise.all([p.waitForEvent('download'), p.click(selector)]);
  assert.match(dl.suggestedFilename(), /^gatehouse-sync-[0-9a-f]{8}-to-[0-9a-f]{8}\.ghsync$/);
  const file = path.join(work, name);
  await dl.saveAs(file);
  assert.equal(fs.readFileSync(file).subarray(0, 8).toString(), 'GHBUNDLE');
  return file;
}

/* --- set-up ----------------------------------------------------------------------------------------- */
before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-browser-sync-'));
  if (fs.existsSync(SCREENSHOTS)) {
    for (const f of fs.readdirSync(SCREENSHOTS)) if (f.startsWith('sync-')) fs.rmSync(path.join(SCREENSHOTS, f));
  }
  // Exchanges only when asked for ("sync now"), so what the test sees is what the button did.
  central = await new Appliance({ sets: [...LIMITS, 'jobs.sync=off'] }).start();
  site = await new Appliance({ sets: [...LIMITS, 'jobs.sync=off'] }).start();
  await firstAdmin(central);
  await firstAdmin(site);
  csetup = createAdmin(central, 'setup', 'system-admin');
  assert.equal((await csetup.login()).status, 200);
  ssetup = createAdmin(site, 'setup', 'system-admin');
  assert.equal((await ssetup.login()).status, 200);
  // The central's sites: the one the site appliance will serve, and another.
  ids.branch = ok(await csetup.call('POST', '/api/v1/sites', { name: 'Branch', timezone: 'Asia/Tokyo' }, T), 201).id;
  ok(await csetup.call('POST', '/api/v1/sites', { name: 'Elsewhere', timezone: 'Europe/Paris' }, T), 201);

  const { chromium } = await playwright();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  cpage = await newPage();
  spage = await newPage();
});

after(async () => {
  if (browser) await browser.close();
  for (const a of [central, site]) if (a) await a.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/* --- tests ------------------------------------------------------------------------------------------- */
test('both consoles: the sync page of an appliance that is not paired', async () => {
  await login(cpage, central);
  await cpage.selectOption('#tenant-select', 'default');
  await ready(cpage, 'dashboard');
  assert.match(await cpage.textContent('#nav'), /Site sync/);
  await go(cpage, '#/sync', 'sync');
  assert.equal(await cpage.getAttribute('#sync-role', 'data-role'), 'none');
  assert.match(await cpage.textContent('#sync-pairings'), /No site is paired/);
  await assertLabelled(cpage);

  await login(spage, site);
  await go(spage, '#/sync', 'sync');
  assert.equal(await spage.getAttribute('#sync-role', 'data-role'), 'none');
  await spage.waitForSelector('#sync-pair-form');
  assert.equal(await spage.$('#site-note'), null, 'no site note before pairing');
  await assertLabelled(spage);
  await shot('site-not-paired', spage);
});

test('central: pair a site; the code, its expiry and the fingerprint shown once in a dialog', async () => {
  await cpage.click('#sync-pair-site');
  await cpage.waitForSelector('#sync-pair-site-form');
  await cpage.selectOption('#sync-pair-site-form select[name=site_id]', { label: 'Branch (Asia/Tokyo)' });
  await cpage.click('#sync-pair-site-form button[type=submit]');
  await cpage.waitForSelector('dialog[open] #sync-new-code');
  made.code = (await cpage.textContent('#sync-new-code')).trim();
  made.fingerprint = (await cpage.textContent('#sync-new-fingerprint')).trim();
  assert.match(made.code, /^GHP-[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
  assert.equal(made.fingerprint, fingerprint(central));
  assert.equal((await cpage.textContent('#sync-new-address')).trim(), central.url);
  assert.match(await cpage.textContent('#sync-new-expires'), /\d/);
  assert.match(await cpage.textContent('dialog[open]'), /shown only once/);
  await shot('central-pairing-code', cpage);
  await cpage.click('dialog[open] footer button:last-child');
  // Closing takes the open attribute at once and the dialog itself on its
  // close event, a task later: wait for the code's element to go.
  await cpage.waitForSelector('#sync-new-code', { state: 'detached' });
  assert.ok(!(await cpage.content()).includes(made.code), 'the code leaves the page with its dialog');
  // The page is now a central's, with the pairing waiting for its site.
  await ready(cpage, 'sync');
  await cpage.waitForSelector('#sync-role[data-role=central]');
  const row = await cpage.waitForSelector('#sync-pairings tr:has-text("Branch")');
  assert.match(await row.textContent(), /Waiting for the site.*Code valid until/s);
  ids.pairing = ok(await csetup.call('GET', '/api/v1/sync/pairings', null, T)).items[0].id;
});

test('site: the fingerprint checked at its field and by the central\'s certificate, then paired', async () => {
  await spage.fill('#sync-pair-form input[name=central_url]', central.url);
  await spage.fill('#sync-pair-form input[name=fingerprint]', 'AB:CD');
  await spage.fill('#sync-pair-form input[name=code]', made.code);
  await spage.click('#sync-pair-form button[type=submit]');
  await spage.waitForSelector('#sync-pair-form input[name=fingerprint][aria-invalid=true]');
  assert.equal(await spage.$('#sync-pair-form input[name=code][aria-invalid=true]'), null);
  // Another certificate's fingerprint: refused before anything is sent, in the appliance's words.
  const wrong = (made.fingerprint.startsWith('00') ? '11' : '00') + made.fingerprint.slice(2);
  await spage.fill('#sync-pair-form input[name=fingerprint]', wrong);
  await spage.click('#sync-pair-form button[type=submit]');
  await spage.waitForFunction(() => /not the pinned one/.test(document.querySelector('#sync-pair-form .form-error').textContent),
    null, { timeout: 60000 * SLOW });
  assert.match(await spage.textContent('#sync-pair-form .form-error'), /refusing to talk to it/);
  await shot('site-pair-refused', spage);
  await spage.fill('#sync-pair-form input[name=fingerprint]', made.fingerprint);
  await spage.click('#sync-pair-form button[type=submit]');
  await spage.waitForSelector('#sync-role[data-role=site]', { timeout: 60000 * SLOW });
  await ready(spage, 'sync');
  assert.equal((await spage.textContent('#sync-central-url')).trim(), central.url);
  assert.match(await spage.textContent('#sync-owned'), /belong to its central appliance/);
  assert.match(await spage.textContent('#site-note'), /Site appliance/);
  await assertLabelled(spage);
  await shot('site-paired', spage);
  // The central's page shows it active.
  await go(cpage, '#/sync', 'sync');
  assert.match(await cpage.textContent('#sync-pairings tr:has-text("Branch")'), /Active/);
  await assertLabelled(cpage);
  await shot('central-pairing-active', cpage);
});

test('site: "sync now" brings a person made on the central into the site\'s people list', async () => {
  const person = ok(await csetup.call('POST', '/api/v1/people', { name: 'Hanako Suzuki', email: 'hanako@example.jp', employee_no: 'B-1' }, T), 201);
  ids.person = person.id;
  assert.equal(await syncNow(), 'ok', await spage.textContent('#sync-run'));
  assert.match(await spage.textContent('#sync-run'), /Synced\. Changesets received: [1-9]\d* \(\d+ rows\)/);
  assert.match(await spage.textContent('#sync-last'), /less than a minute ago/);
  await shot('site-synced', spage);
  await go(spage, '#/people', 'people');
  await spage.waitForSelector(`#people-results a[href="#/people/${person.id}"]:has-text("Hanako Suzuki")`);
  assert.match(await spage.textContent('#people-on-site'), new RegExp(`managed on the central appliance \\(${central.url.replace(/[.:/]/g, '\\$&')}\\)`));
  await shot('site-people', spage);
});

test('site: editing the central\'s person is refused with the central\'s message', async () => {
  await go(spage, `#/people/${ids.person}`, 'person');
  await spage.fill('#person-form input[name=name]', 'Hanako Changed');
  await spage.click('#person-form button[type=submit]');
  await spage.waitForFunction(() => /change them on the central appliance/.test(document.querySelector('#person-form .form-error').textContent));
  assert.ok((await spage.textContent('#person-form .form-error')).includes(central.url));
  await shot('site-owned-by-central', spage);
  const p = ok(await ssetup.call('GET', `/api/v1/people/${ids.person}`));
  assert.equal(p.name, 'Hanako Suzuki', 'nothing changed at the site');
});

test('bundles: the central\'s export imported at the site, twice; an altered one and one going the wrong way refused', async () => {
  ok(await csetup.call('POST', '/api/v1/people', { name: 'Jiro Bundle', email: 'jiro@example.jp' }, T), 201);
  await go(cpage, '#/sync', 'sync');
  const toSite = await saveDownload(cpage, `#sync-pairings button[data-export="${ids.pairing}"]`, 'to-site.ghsync');
  await cpage.waitForSelector('#sync-export-result .notice.ok');

  // Altered on the way: refused, nothing applied.
  const bytesIn = fs.readFileSync(toSite);
  const altered = Buffer.from(bytesIn);
  altered[Math.floor(altered.length / 2)] ^= 0x40;
  fs.writeFileSync(path.join(work, 'altered.ghsync'), altered);
  let r = await importBundle(spage, path.join(work, 'altered.ghsync'));
  assert.equal(r.status, 'refused', r.text);
  assert.match(r.text, /altered\.ghsync was refused: .*(altered or is damaged|cut short|corrupt)/);
  await shot('site-import-altered', spage);
  let people = ok(await ssetup.call('GET', '/api/v1/people?limit=50')).items;
  assert.ok(!people.some((x) => x.name === 'Jiro Bundle'), 'an altered bundle applies nothing');

  r = await importBundle(spage, toSite);
  assert.equal(r.status, 'applied', r.text);
  assert.match(r.text, /to-site\.ghsync: applied [1-9]\d* of [1-9]\d* changesets/);
  await shot('site-import-applied', spage);
  people = ok(await ssetup.call('GET', '/api/v1/people?limit=50')).items;
  assert.ok(people.some((x) => x.name === 'Jiro Bundle'), 'the bundle brought the person');
  await go(spage, '#/people', 'people');
  await spage.waitForSelector('#people-results a:has-text("Jiro Bundle")');

  // The same bundle again: nothing new.
  r = await importBundle(spage, toSite);
  assert.equal(r.status, 'already_applied', r.text);
  assert.match(r.text, /already applied.*nothing changed/);
  await shot('site-import-again', spage);

  // The site's export: refused at the site itself (it is for the central), applied at the central.
  await go(spage, '#/sync', 'sync');
  const toCentral = await saveDownload(spage, '#sync-export', 'to-central.ghsync');
  r = await importBundle(spage, toCentral);
  assert.equal(r.status, 'refused', r.text);
  assert.match(r.text, /made by a site for its central, not for this site/);
  r = await importBundle(cpage, toCentral);
  assert.equal(r.status, 'applied', r.text);
  await shot('central-import-applied', cpage);
  r = await importBundle(cpage, toCentral);
  assert.equal(r.status, 'already_applied', r.text);
});

test('Japanese: the sync page and the central\'s refusal at the site', async () => {
  await spage.selectOption('#lang', 'ja');
  await spage.waitForFunction(() => document.documentElement.lang === 'ja');
  await go(spage, '#/sync', 'sync');
  assert.equal(await spage.textContent('main h1'), 'サイト同期');
  assert.match(await spage.textContent('#sync-role'), /サイト/);
  assert.match(await spage.textContent('#sync-owned'), /中央アプライアンスのものです/);
  assert.match(await spage.textContent('#sync-streams'), /人とアクセス.*イベント/s);
  assert.match(await spage.textContent('#site-note'), /サイトアプライアンス/);
  assert.equal(await spage.textContent('#sync-now'), '今すぐ同期');
  await shot('site-sync-ja', spage);
  await go(spage, `#/people/${ids.person}`, 'person');
  await spage.fill('#person-form input[name=name]', 'Hanako Changed');
  await spage.click('#person-form button[type=submit]');
  await spage.waitForFunction(() => /この機器はサイトです.*change them on the central appliance/.test(document.querySelector('#person-form .form-error').textContent));
  await shot('site-owned-by-central-ja', spage);
  await spage.selectOption('#lang', 'en');
  await spage.waitForFunction(() => document.documentElement.lang === 'en');
  await ready(spage);
});

test('central: a pairing revoked after confirmation; the site\'s next sync is refused with the reason', async () => {
  await go(cpage, '#/sync', 'sync');
  await cpage.click(`#sync-pairings button[data-revoke="${ids.pairing}"]`);
  await cpage.waitForSelector('dialog[open] [data-confirm]');
  assert.match(await cpage.textContent('dialog[open]'), /stops working at once/);
  await shot('central-revoke-confirm', cpage);
  await cpage.click('dialog[open] [data-confirm]');
  await cpage.waitForSelector('#sync-pairings [data-state=revoked]');
  await ready(cpage, 'sync');
  await cpage.waitForSelector('#sync-pairings [data-state=revoked]');
  assert.equal(await cpage.$(`#sync-pairings button[data-revoke="${ids.pairing}"]`), null);
  await shot('central-revoked', cpage);
  assert.equal(await syncNow(), 'failed', await spage.textContent('#sync-run'));
  assert.match(await spage.textContent('#sync-run'), /no longer accepts this site/);
  assert.match(await spage.textContent('#sync-last-error'), /no longer accepts this site/);
  await shot('site-sync-refused', spage);
});

test('no script errors and no Content-Security-Policy violations', () => {
  assert.deepEqual(problems, []);
});
