// Browser tests of the console's day-to-day operation with a simulated
// terminal running: `gatehouse devsim` (one terminal, created with an API
// token as a bundle, badging the card of a person made here) against the
// real binary, and Debian's Chromium driven by playwright-core.
//
// A new admin logs in with TOTP; puts the door on the simulated terminal;
// sees its badge events arrive live on the dashboard and the door's state;
// unlocks the door and sees the command done; filters and exports the
// event log (CSV and XLSX); makes a backup and sees it verified; reads the
// recovery key's status; sees an alert (the terminal stopped, offline)
// and acknowledges and resolves it; reads the settings from the appliance,
// tests the webhook channel; is refused a certificate whose key does not
// match and stores a valid pair for the next start; switches to Japanese;
// and an operator keeps a language choice too. Screenshots go to
// build/screenshots/ as ops-NN-*.png (the setup and data of console.test.mjs
// are made there through the browser; here they are made through the API).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Appliance, ApiSession, createAdmin, playwright, unzip, sleep, BINARY, CHROMIUM, SCREENSHOTS, ADMIN_PASSWORD, SLOW,
  watchPage, ready, goTo, screenshotter,
} from './harness.mjs';
import { totp } from './totp.mjs';

const CARD = '4455 6677';
const T = { 'X-Tenant': 'default' };

let app;
let browser;
let page;
let work;
let totpSecret;
let setup; // a second system admin for the API side (one session per admin)
let devsim = null;
const ids = {};
const problems = [];
const usedSteps = new Set();

/* --- helpers --------------------------------------------------------------------------------------- */
const watch = (p) => watchPage(p, problems);

async function newPage(opts = {}) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, acceptDownloads: true,
    locale: 'en-GB', timezoneId: 'Europe/London', ...opts,
  });
  const p = await ctx.newPage();
  watch(p);
  return { ctx, p };
}

const go = (hash, route, p = page) => goTo(p, hash, route);

const screenshot = screenshotter('ops-');
const shot = (name, p = page) => screenshot(name, p);

async function freshCode() {
  for (;;) {
    const step = Math.floor(Date.now() / 30000);
    for (const s of [step, step + 1]) {
      if (!usedSteps.has(s)) {
        usedSteps.add(s);
        return totp(totpSecret, s * 30000);
      }
    }
    await sleep(1000);
  }
}

const ok = (r, want = 200) => {
  assert.equal(r.status, want, JSON.stringify(r.doc).slice(0, 400));
  return r.doc;
};

function startDevsim() {
  const args = ['devsim', '--dir', path.join(work, 'sim'), '--devices', '1', '--appliance', '127.0.0.1',
    '--mqtt-port', String(app.mqttPort), '--web-port', String(app.port), '--web-ca', path.join(app.state, 'tls', 'server.crt'),
    '--api-token-file', path.join(work, 'token'), '--bundle', '--rate', '0.5', '--cards', path.join(work, 'cards'),
    '--unknown-cards', '0', '--max-backoff', '500', '--quiet'];
  const proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.out = '';
  proc.stdout.on('data', (d) => { proc.out += d; });
  proc.stderr.on('data', (d) => { proc.out += d; });
  return proc;
}

async function stopDevsim() {
  if (!devsim || devsim.exitCode != null) return;
  const done = new Promise((r) => devsim.once('exit', r));
  devsim.kill('SIGTERM');
  await Promise.race([done, sleep(15000)]);
  if (devsim.exitCode == null) devsim.kill('SIGKILL');
}

/* --- set-up ------------------------------------------------------------------------------------------ */
before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-browser-ops-'));
  if (fs.existsSync(SCREENSHOTS)) {
    for (const f of fs.readdirSync(SCREENSHOTS)) if (f.startsWith('ops-')) fs.rmSync(path.join(SCREENSHOTS, f));
  }
  const secret = path.join(work, 'webhook-secret');
  fs.writeFileSync(secret, 'ops-webhook-secret\n', { mode: 0o600 });
  app = await new Appliance({
    sets: [
      // A terminal that stops is an alert within seconds, not ten minutes.
      'alerts.terminal_offline=3s', 'jobs.alert_rules=every 1s',
      // A webhook nobody listens on: the channel test answers its failure honestly.
      'webhook.urls=https://localhost:1/gatehouse', `webhook.secret_file=${secret}`,
      'password.min_length=10',
    ],
  }).start();
  const { chromium } = await playwright();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  ({ p: page } = await newPage());

  // The bootstrap admin's forced change and TOTP enrolment, through the API
  // (console.test.mjs does both in the browser).
  const first = new ApiSession(app, 'admin', app.bootstrapPassword());
  assert.equal((await first.login()).status, 200);
  ok(await first.call('POST', '/api/v1/session/password', { current_password: app.bootstrapPassword(), new_password: ADMIN_PASSWORD }), 204);
  const me = new ApiSession(app, 'admin', ADMIN_PASSWORD);
  assert.equal((await me.login()).status, 200);
  totpSecret = ok(await me.call('POST', '/api/v1/session/totp')).secret;
  ok(await me.call('POST', '/api/v1/session/totp/confirm', { code: await freshCode() }));

  // The access rules and a person with a card (made in the browser by console.test.mjs).
  setup = createAdmin(app, 'setup', 'system-admin');
  assert.equal((await setup.login()).status, 200);
  const site = ok(await setup.call('POST', '/api/v1/sites', { name: 'Head office', timezone: 'Europe/London' }, T), 201);
  const door = ok(await setup.call('POST', '/api/v1/doors', { site_id: site.id, name: 'Lobby', unlock_seconds: 5 }, T), 201);
  const schedule = ok(await setup.call('POST', '/api/v1/schedules', {
    name: 'Always', windows: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({ day, start: '00:00', end: '24:00' })),
  }, T), 201);
  const group = ok(await setup.call('POST', '/api/v1/access-groups', { name: 'Staff' }, T), 201);
  const person = ok(await setup.call('POST', '/api/v1/people', { name: 'Taro Sato', email: 'taro@example.org', group_ids: [group.id] }, T), 201);
  ids.person = person.id;
  ok(await setup.call('POST', `/api/v1/people/${person.id}/credentials`, { kind: 'card', number: CARD }, T), 201);
  ok(await setup.call('POST', '/api/v1/access-levels', { name: 'Staff always', group_id: group.id, schedule_id: schedule.id, door_ids: [door.id] }, T), 201);
  Object.assign(ids, { site: site.id, door: door.id, person: person.id });

  // devsim: an API token to create its terminal, and the card it badges.
  const token = ok(await setup.call('POST', '/api/v1/tokens', { name: 'devsim', scope: 'manage', expires_in_days: 1 }, T), 201);
  fs.writeFileSync(path.join(work, 'token'), `${token.token}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(work, 'cards'), `${CARD}\n`);
  devsim = startDevsim();
  const deadline = Date.now() + 30000 * SLOW;
  for (;;) {
    const list = ok(await setup.call('GET', '/api/v1/devices', null, T));
    const d = list.items.find((x) => x.name === 'devsim-1');
    if (d && d.online) {
      ids.terminal = d.id;
      break;
    }
    assert.ok(Date.now() < deadline, `devsim's terminal never came online:\n${devsim.out}\n${app.log()}`);
    await sleep(200);
  }
});

after(async () => {
  await stopDevsim();
  if (browser) await browser.close();
  if (app) await app.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/* --- tests --------------------------------------------------------------------------------------------- */
test('log in with the password and the authenticator code', async () => {
  await page.goto(`${app.url}/`);
  await ready(page, 'login');
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('form button[type=submit]');
  await page.waitForSelector('input[name=totp_code]');
  await page.fill('input[name=totp_code]', await freshCode());
  await page.click('form button[type=submit]');
  await ready(page, 'dashboard');
  await page.selectOption('#tenant-select', 'default');
  await ready(page, 'dashboard');
});

test('the door goes on the simulated terminal, and its badge events arrive live on the dashboard', async () => {
  await go('#/access/doors', 'doors');
  await page.click('#doors-list button[aria-label^="Change door"]');
  await page.waitForSelector('dialog[open]');
  await page.selectOption('dialog select[name=terminal_id]', { label: 'devsim-1' });
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#doors-list td a:has-text("devsim-1")');

  await go('#/', 'dashboard');
  await page.waitForSelector('#live-state[data-state=live]');
  const before = await page.$$eval('#live-events li[data-event]', (els) => Math.max(0, ...els.map((e) => Number(e.dataset.event))));
  // The terminal syncs the door within a second or two, then its badges are granted there.
  const handle = await page.waitForFunction((n) => [...document.querySelectorAll('#live-events li[data-event]')]
    .find((li) => Number(li.dataset.event) > n && li.dataset.result === 'granted' && /Lobby/.test(li.textContent) && /Taro Sato/.test(li.textContent)),
  before, { timeout: 30000 * SLOW });
  assert.ok(await handle.evaluate((li) => li === document.querySelector('#live-events li')), 'newest on top');
  assert.match(await page.textContent('#dash-online'), /^1$/);
  // The door's row follows: its terminal online, its newest event shown.
  await page.waitForFunction(() => /devsim-1.*Online.*Badge.*Granted/s.test(
    [...document.querySelectorAll('#dash-doors-card tr')].find((tr) => /Lobby/.test(tr.textContent))?.textContent || ''));
  await shot('dashboard-live');
});

test('unlock the door from the terminal page and see the command done', async () => {
  await go(`#/terminals/${ids.terminal}`, 'terminal');
  await page.selectOption('#command-form select[name=kind]', 'unlock');
  await page.fill('#command-form input[name=seconds]', '4');
  await page.click('#command-form button[type=submit]');
  await page.waitForSelector('#commands-list [data-state=done]', { timeout: 30000 * SLOW });
  assert.match(await page.textContent('#commands-list'), /Lobby, 4 s/);
  await shot('terminal-unlock-done');
});

test('events: filters by door, result and the person\'s card; CSV and XLSX exports', async () => {
  await go('#/events', 'events');
  await page.waitForSelector('#events-list tbody tr');
  await page.selectOption('#events-filters select[name=door_id]', { label: 'Lobby' });
  await page.selectOption('#events-filters select[name=result]', 'granted');
  await page.selectOption('#events-filters select[name=by]', 'card');
  await page.fill('#events-filters input[name=who]', CARD);
  await page.click('#events-filters button[type=submit]');
  await page.waitForFunction(() => document.getElementById('status').textContent === 'Events filtered.');
  const rows = await page.$$eval('#events-list tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.ok(rows.length > 0);
  for (const r of rows) assert.match(r, /Badge.*Granted.*Lobby.*devsim-1.*Head office.*Taro Sato.*\*{4}6677/s);
  // An e-mail nobody has is said so at the field.
  await page.selectOption('#events-filters select[name=by]', 'email');
  await page.fill('#events-filters input[name=who]', 'nobody@example.org');
  await page.click('#events-filters button[type=submit]');
  await page.waitForFunction(() => /nobody has this value/.test(document.querySelector('#events-filters').textContent));
  await page.fill('#events-filters input[name=who]', 'taro@example.org');
  await page.click('#events-filters button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#events-list tbody tr').length > 0);
  await shot('events-filtered');

  const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('#events-export-xlsx')]);
  assert.match(xlsx.suggestedFilename(), /\.xlsx$/);
  const files = await unzip(fs.readFileSync(await xlsx.path()));
  const sheet = [...files.entries()].filter(([n]) => n.startsWith('xl/')).map(([, b]) => b.toString()).join('');
  assert.ok(sheet.includes('Lobby') && sheet.includes('Taro Sato') && sheet.includes('granted'), 'the events are in the workbook');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#events-export-csv')]);
  const text = fs.readFileSync(await csv.path(), 'utf8');
  const lines = text.trim().split(/\r?\n/);
  assert.match(lines[0], /^\uFEFF?id,at,kind,result/);
  assert.ok(lines.length > 1 && lines.slice(1).every((l) => /Taro Sato/.test(l)), 'only the filtered person');
  await page.waitForFunction(() => /Saved /.test(document.getElementById('events-export-progress').textContent));
});

test('the access report lists the person\'s badge events, newest first, and the JSON download holds them all', async () => {
  const stored = ok(await setup.call('GET', `/api/v1/events?person_id=${ids.person}&limit=500`, null, T)).items;
  assert.ok(stored.length > 0);
  await go(`#/people/${ids.person}`, 'person');
  await page.click('#report-button');
  try {
    await page.waitForSelector('dialog[open] #report-events tbody tr');
    const rows = await page.$$eval('dialog[open] #report-events tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.ok(rows.length > 0 && rows.length <= 20);
    // Badges before the door was put on the terminal were refused at no door; since, granted at the Lobby.
    for (const r of rows) assert.match(r, /\d{2}:\d{2}:\d{2}.*(Lobby|No door).*(Granted|Denied)/s);
    assert.ok(rows.some((r) => /Lobby.*Granted/s.test(r)), rows.join(' | '));
    await shot('access-report');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('dialog[open] footer button:has-text("Download as JSON")')]);
    const report = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
    assert.equal(report.name, 'Taro Sato');
    assert.equal(report.events_complete, true);
    // Everything stored when the report was read: the terminal keeps badging, so newer ones may follow.
    const got = new Set(report.events.map((e) => e.id));
    assert.ok(stored.every((e) => got.has(e.id)), 'every event stored before is in the report');
    assert.ok(report.events.every((e) => e.person_id === ids.person && e.person_name === 'Taro Sato'));
    const at = report.events.map((e) => e.at);
    assert.deepEqual(at, [...at].sort().reverse(), 'newest first');
    assert.equal(await page.textContent('dialog[open] h3:has-text("Access events") + p'), `${report.events.length} events`);
  } finally {
    // Whatever happened, the next test starts without the dialog.
    if (await page.$('dialog[open]')) await page.click('dialog[open] footer button:last-child');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
  }
});

test('backups: make one now, follow it to the end, verify it; the recovery key not yet handed out', async () => {
  await go('#/backups', 'backups');
  assert.match(await page.textContent('#recovery-exported'), /Not yet/);
  assert.match(await page.textContent('#recovery-key'), /gatehouse keys recovery-export/);
  assert.match(await page.textContent('#backup-settings'), /jobs\.backup_full.*cron 0 2 \* \* 0/s);
  await page.click('#backup-run-now');
  await page.waitForSelector('#backup-run[data-status]', { timeout: 120000 * SLOW });
  assert.equal(await page.getAttribute('#backup-run', 'data-status'), 'ok', await page.textContent('#backup-run'));
  assert.match(await page.textContent('#backup-run'), /read back and verified/);
  await page.waitForSelector('#backups-list tbody tr');
  assert.match(await page.textContent('#backups-list tbody tr'), /Full backup.*Whole/s);
  await page.click('#backups-list button[data-verify]');
  await page.waitForSelector('#backup-verify .notice.ok', { timeout: 60000 * SLOW });
  assert.match(await page.textContent('#backup-verify'), /verified: it decrypts/);
  assert.match(await page.textContent('#backup-last'), /Full backup.*OK/s);
  await shot('backups');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#backups-list button[data-download]')]);
  assert.match(dl.suggestedFilename(), /^gatehouse-.*-full-.*\.ghb$/);
  assert.equal(fs.readFileSync(await dl.path()).subarray(0, 8).toString(), 'GHBACKUP');
});

test('alerts: the stopped terminal is an alert, on the dashboard and the alerts page; acknowledged and resolved with a note', async () => {
  await stopDevsim();
  await go('#/', 'dashboard');
  // The dashboard hears it through the live stream.
  const item = await page.waitForSelector('#dash-alerts li:has-text("devsim-1")', { timeout: 30000 * SLOW });
  assert.match(await item.textContent(), /Warning/);
  await shot('dashboard-alert');
  await go('#/alerts', 'alerts');
  const row = await page.waitForSelector('#alerts-list tr:has-text("devsim-1")');
  assert.match(await row.textContent(), /Terminal offline.*Open/s);
  await shot('alerts');
  await page.click('#alerts-list tr:has-text("devsim-1") button[data-ack]');
  await page.waitForSelector('#alerts-list tr:has-text("devsim-1") [data-state=acknowledged]');
  // Its deliveries: the webhook (nobody listens on it) failing and retried.
  await page.click('#alerts-list tr:has-text("devsim-1") button[data-deliveries]');
  await page.waitForSelector('dialog[open] td:has-text("webhook:1")');
  await shot('alert-deliveries');
  await page.click('dialog[open] footer button:last-child');
  await page.click('#alerts-list tr:has-text("devsim-1") button[data-resolve]');
  await page.fill('dialog[open] textarea[name=note]', 'The simulator was stopped on purpose.');
  await page.click('dialog[open] button[type=submit]');
  // The resolve is done when its dialog closes; then the list is filtered.
  // Wait for the resolved row itself, not a row of the list shown before.
  await page.waitForSelector('dialog[open]', { state: 'detached' });
  await page.selectOption('#alerts-filters select[name=state]', 'resolved');
  await page.click('#alerts-filters button[type=submit]');
  const done = await page.waitForSelector('#alerts-list tr:has-text("devsim-1"):has-text("The simulator was stopped on purpose")');
  assert.match(await done.textContent(), /Resolved.*The simulator was stopped on purpose/s);
});

test('settings from the appliance: the login policy in force, e-mail and webhooks with a test', async () => {
  await go('#/settings/policy', 'policy');
  assert.match(await page.textContent('#settings-login [data-key="password.min_length"]'), /^10$/);
  assert.match(await page.textContent('#settings-login'), /auth\.lockout_threshold.*Failed logins that lock an account.*3/s);
  await shot('settings-policy');
  await go('#/settings/notifications', 'notifications');
  assert.match(await page.textContent('#settings-webhook'), /https:\/\/localhost:1\/gatehouse/);
  assert.match(await page.textContent('[data-secret="webhook.secret_file"]'), /is set/);
  assert.ok(!(await page.textContent('main')).includes('ops-webhook-secret'), 'the secret is never shown');
  await page.click('#test-webhook');
  await page.waitForSelector('#test-webhook-result[data-ok]', { timeout: 30000 * SLOW });
  assert.equal(await page.getAttribute('#test-webhook-result', 'data-ok'), 'no');
  assert.match(await page.textContent('#test-webhook-result'), /could not be delivered.*localhost:1.*Not delivered/s);
  await page.click('#test-email');
  await page.waitForSelector('#test-email-result[data-ok]', { timeout: 30000 * SLOW });
  await shot('settings-notifications');
});

test('certificates: a key that does not match is refused in words; a valid pair is stored for the next start', async () => {
  const dir = path.join(work, 'pki');
  fs.mkdirSync(dir);
  const openssl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
    '-days', '90', '-subj', '/CN=gatehouse.example', '-addext', 'subjectAltName=DNS:gatehouse.example,DNS:localhost');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.pem', '-out', 'other-cert.pem', '-days', '90', '-subj', '/CN=other');
  await go('#/settings/certificates', 'certificates');
  const before = await page.textContent('#web-cert-sha256');
  assert.match(await page.textContent('main'), /Device CA.*Device link server/s);
  await page.setInputFiles('#cert-form textarea[name=cert_pem] ~ .row input[type=file]', path.join(dir, 'cert.pem')).catch(async () => {
    await page.fill('#cert-form textarea[name=cert_pem]', fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'));
  });
  await page.waitForFunction(() => /BEGIN CERTIFICATE/.test(document.querySelector('#cert-form textarea[name=cert_pem]').value));
  await page.fill('#cert-form textarea[name=key_pem]', fs.readFileSync(path.join(dir, 'other.pem'), 'utf8'));
  await page.click('#cert-form button[type=submit]');
  await page.waitForSelector('#cert-form textarea[name=key_pem][aria-invalid=true]');
  assert.match(await page.textContent('#cert-form'), /the private key does not belong to the certificate/);
  await shot('certificate-refused');
  await page.fill('#cert-form textarea[name=key_pem]', fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'));
  await page.click('#cert-form button[type=submit]');
  await page.waitForSelector('#cert-stored');
  assert.match(await page.textContent('#cert-stored'), /next restart/);
  assert.match(await page.textContent('#web-cert-names'), /gatehouse\.example/);
  assert.notEqual(await page.textContent('#web-cert-sha256'), before);
  assert.equal(await page.inputValue('#cert-form textarea[name=key_pem]'), '', 'the key leaves the page');
  assert.equal(fs.statSync(path.join(app.state, 'tls', 'server.key')).mode & 0o777, 0o600);
  await shot('certificate-stored');
  // Still served: the old certificate until a restart.
  await go('#/', 'dashboard');
});

test('Japanese: chosen on the account page, saved with the account, the new pages in Japanese', async () => {
  await go('#/settings', 'account');
  await page.selectOption('#language-form select[name=language]', 'ja');
  await page.click('#language-form button[type=submit]');
  await page.waitForFunction(() => document.documentElement.lang === 'ja');
  await ready(page);
  const admins = ok(await setup.call('GET', '/api/v1/admins'));
  assert.equal(admins.items.find((a) => a.username === 'admin').language, 'ja');
  await go('#/events', 'events');
  assert.equal(await page.textContent('main h1'), 'イベント');
  assert.match(await page.textContent('#events-list'), /カード認証.*許可/s);
  await shot('events-ja');
  await go('#/backups', 'backups');
  assert.match(await page.textContent('main'), /フルバックアップ/);
  await shot('backups-ja');
  await go('#/', 'dashboard');
  assert.equal(await page.textContent('main h1'), 'ダッシュボード');
  await shot('dashboard-ja');
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await ready(page, 'dashboard');
});

test('an operator: the pages its role allows, and its language kept with its account', async () => {
  createAdmin(app, 'operator2', 'operator', { tenant: 'default', password: 'Oper4tor-Passw0rd!' });
  const { ctx, p } = await newPage();
  try {
    await p.goto(`${app.url}/`);
    await ready(p, 'login');
    await p.fill('input[name=username]', 'operator2');
    await p.fill('input[name=password]', 'Oper4tor-Passw0rd!');
    await p.click('form button[type=submit]');
    await ready(p, 'dashboard');
    const nav = await p.textContent('#nav');
    assert.match(nav, /Events.*Alerts/s);
    assert.doesNotMatch(nav, /Backups|Certificates|E-mail and webhooks/);
    await p.selectOption('#lang', 'ja');
    await p.waitForFunction(() => document.documentElement.lang === 'ja' && document.querySelector('main h1')?.textContent === 'ダッシュボード');
    await p.waitForFunction(() => /アカウント/.test(document.getElementById('status').textContent));
    const admins = ok(await setup.call('GET', '/api/v1/admins'));
    assert.equal(admins.items.find((a) => a.username === 'operator2').language, 'ja');
    await shot('operator-dashboard-ja', p);
  } finally {
    await ctx.close();
  }
});

test('no script errors and no Content-Security-Policy violations', () => {
  assert.deepEqual(problems, []);
});
