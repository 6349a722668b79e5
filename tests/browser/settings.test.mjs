// Browser test of settings changed in the console while the appliance runs
// (PUT/DELETE /api/v1/settings/{key}): a system admin raises the password
// rule on the login policy page and the API enforces it at once; a value the
// appliance refuses is explained at the field; the full backup's schedule is
// changed on the backups page and the jobs page shows it; an SMTP relay is
// set on the e-mail page; a key given with --set says so and has no button;
// a change is undone back to the default; the page in Japanese. A relay
// without a sender is refused (it would stop the next start). Real binary,
// Debian's Chromium through playwright-core. Screenshots go to
// build/screenshots/ as settings-NN-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Appliance, createAdmin, playwright, CHROMIUM, ADMIN_PASSWORD, watchPage, ready, goTo, screenshotter,
} from './harness.mjs';
import { totp } from './totp.mjs';

let app;
let browser;
let page;
let api; // another system admin, for checks through the API (one session per admin)
const problems = [];

const go = (hash, route) => goTo(page, hash, route);
const screenshot = screenshotter('settings-');
const shot = (name) => screenshot(name, page);

async function setting(key) {
  const r = await api.call('GET', '/api/v1/settings');
  assert.equal(r.status, 200);
  return r.doc.settings.find((s) => s.key === key);
}

/** Open the Change dialog of key, type or choose value, save. */
async function change(key, value, { select = false } = {}) {
  await page.click(`button[data-change="${key}"]`);
  await page.waitForSelector('dialog[open] #setting-form');
  if (select) await page.selectOption('dialog[open] select[name=value]', value);
  else await page.fill('dialog[open] input[name=value]', value);
  await page.click('dialog[open] #setting-form button[type=submit]');
}

before(async () => {
  app = await new Appliance({ sets: ['limits.api_per_second=10000', 'limits.api_burst=10000', 'smtp.timeout=7s'] }).start();
  createAdmin(app, 'boss', 'system-admin');
  api = createAdmin(app, 'checker', 'system-admin');
  assert.equal((await api.login()).status, 200);
  const pw = await playwright();
  browser = await pw.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
  page = await ctx.newPage();
  watchPage(page, problems);
  await page.goto(`${app.url}/`);
  await ready(page, 'login');
  await page.fill('input[name=username]', 'boss');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('form button[type=submit]');
  await ready(page, 'dashboard');
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.stop();
});

test('the password rule is raised in the console and the API enforces it at once', async () => {
  await go('#/settings/policy', 'policy');
  await shot('policy');
  // A refused value is explained at the field, in the appliance's words.
  await change('password.min_length', '3');
  await page.waitForSelector('dialog[open] .field-error:not(:empty), dialog[open] [id$="-err"]:not(:empty)');
  const why = await page.textContent('dialog[open] #setting-form');
  assert.match(why, /8 to 128/);
  await page.fill('dialog[open] input[name=value]', '14');
  await page.click('dialog[open] #setting-form button[type=submit]');
  await page.waitForSelector('#settings-login [data-key="password.min_length"]:text-is("14")');
  assert.match(await page.textContent('#settings-login'), /changed here/);
  await shot('policy-changed');
  const s = await setting('password.min_length');
  assert.equal(s.value, '14');
  assert.equal(s.source, 'console');
  const r = await api.call('POST', '/api/v1/admins', { username: 'newbie', role: 'system-admin', password: 'Sh0rt-Pass!' });
  assert.equal(r.status, 400, JSON.stringify(r.doc));
  assert.match(JSON.stringify(r.doc), /14/);
});

test('a key given with --set says so and cannot be changed here', async () => {
  await go('#/settings/notifications', 'notifications');
  const text = await page.textContent('#settings-smtp');
  assert.match(text, /Set with --set/);
  assert.equal(await page.$('button[data-change="smtp.timeout"]'), null);
});

test('an SMTP relay is set on the e-mail page, after its sender and recipients', async () => {
  // A relay with no sender would stop the next start: refused, and said why.
  await change('smtp.relay', 'mail.example.org');
  await page.waitForFunction(() => /smtp\.from/.test(document.querySelector('dialog[open] #setting-form')?.textContent || ''));
  await page.click('dialog[open] footer button:last-child');
  await page.waitForSelector('dialog[open]', { state: 'detached' });
  await change('smtp.from', 'gatehouse@example.org');
  await page.waitForSelector('#settings-smtp [data-key="smtp.from"]:text-is("gatehouse@example.org")');
  await change('smtp.to', 'guard@example.org');
  await page.waitForSelector('#settings-smtp [data-key="smtp.to"]:text-is("guard@example.org")');
  await change('smtp.relay', 'mail.example.org');
  await page.waitForSelector('#settings-smtp [data-key="smtp.relay"]:text-is("mail.example.org")');
  assert.equal((await setting('smtp.relay')).value, 'mail.example.org');
  await change('smtp.tls', 'starttls', { select: true });
  await page.waitForSelector('#settings-smtp [data-key="smtp.tls"]:text-is("starttls")');
  await shot('email');
});

test("the full backup's schedule changes on the backups page and the jobs page shows it", async () => {
  await go('#/backups', 'backups');
  await page.waitForSelector('button[data-change="jobs.backup_full"]');
  await change('jobs.backup_full', 'cron 30 3 * * 6');
  await page.waitForSelector('[data-key="jobs.backup_full"]:text-is("cron 30 3 * * 6")');
  await shot('backups-schedule');
  await go('#/jobs', 'jobs');
  assert.match(await page.textContent('main'), /cron 30 3 \* \* 6/);
  const jobs = await api.call('GET', '/api/v1/jobs');
  const full = jobs.doc.items.find((j) => j.name === 'backup-full');
  assert.equal(full.schedule, 'cron 30 3 * * 6');
});

test('a change is undone back to the default', async () => {
  await go('#/settings/policy', 'policy');
  await page.click('button[data-undo="password.min_length"]');
  await page.click('dialog[open] button[data-confirm=yes]');
  await page.waitForSelector('#settings-login [data-key="password.min_length"]:text-is("8")');
  assert.equal(await page.$('button[data-undo="password.min_length"]'), null);
  const s = await setting('password.min_length');
  assert.equal(s.source, 'default');
  const audit = await api.call('GET', '/api/v1/audit?action=settings.change&limit=10');
  assert.ok(audit.doc.items.length >= 4, JSON.stringify(audit.doc.items));
});

test('two-step login required of every admin: the one who turns it on enrols at once, the others are held', async () => {
  await go('#/settings/policy', 'policy');
  await change('auth.require_totp', 'yes', { select: true });
  // From the next request on, this admin too must enrol: the console shows nothing else.
  await page.waitForSelector('#enrol-totp');
  assert.match(await page.textContent('#enrol-totp'), /requires every admin/);
  assert.equal(await page.$('#nav a'), null);
  const held = await api.call('GET', '/api/v1/people');
  assert.equal(held.status, 403);
  assert.equal(held.doc.error.code, 'totp_enrolment_required');
  await shot('totp-required');
  await page.click('#totp-start');
  await page.waitForSelector('#totp-secret');
  const secret = (await page.textContent('#totp-secret')).replace(/\s/g, '');
  await page.fill('#totp-confirm-form input[name=code]', totp(secret));
  await page.click('#totp-confirm-form button[type=submit]');
  await page.waitForSelector('#recovery-codes');
  await page.click('dialog[open] footer button:last-child');
  await ready(page, 'policy');
  assert.match(await page.textContent('#settings-login [data-key="auth.require_totp"]'), /yes/);
  // Turned off again, by the admin who now has it; the other admin works again.
  await page.click('button[data-undo="auth.require_totp"]');
  await page.click('dialog[open] button[data-confirm=yes]');
  await page.waitForSelector('#settings-login [data-key="auth.require_totp"]:text-is("no")');
  assert.equal((await api.call('GET', '/api/v1/people')).status, 200);
});

test('the settings pages in Japanese', async () => {
  await page.selectOption('#lang', 'ja');
  await page.waitForFunction(() => document.documentElement.lang === 'ja');
  await go('#/settings/policy', 'policy');
  const text = await page.textContent('main');
  assert.match(text, /設定元/);
  assert.match(text, /変更/);
  await shot('policy-ja');
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.deepEqual(problems, []);
});
