// Browser tests of the web console: Debian's Chromium, headless, driven by
// playwright-core, against the real binary. One appliance, one browser,
// pages one after another (the machine is small and shared); the tests run
// in order and build on each other like an admin's first day.
//
// Screenshots of every page go to build/screenshots/ (GH_SCREENSHOTS);
// page-load times with 100,000 people are printed, never asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  Appliance, ApiSession, createAdmin, playwright, unzip, sleep, CHROMIUM, SCREENSHOTS, NODE_MODULES, ADMIN_PASSWORD,
  SANITIZED, SLOW, TOP,
  watchPage, ready, goTo, screenshotter,
} from './harness.mjs';
import { totp, base32Decode } from './totp.mjs';

const PEOPLE = Number(process.env.GH_BROWSER_PEOPLE || (SANITIZED ? 10000 : 100000));
const CARD = '1234 5678';
const CARD_DIGITS = '12345678';

let app;
let browser;
let context;
let page;
let totpSecret = null;
const usedSteps = new Set();
const problems = []; // script errors and CSP reports seen in any page

/* --- helpers ----------------------------------------------------------------------------------- */
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

const screenshot = screenshotter('');
const shot = (name, p = page) => screenshot(name, p);

/** A TOTP code no login has used yet (a code is accepted once): this window's, the next, or wait. */
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

/** Wait for this message in the status line (the polite live region). */
async function statusIs(text, p = page) {
  await p.waitForFunction((x) => document.getElementById('status').textContent === x, text);
}

async function dialog(p = page) {
  return p.waitForSelector('dialog[open]');
}

/** A small valid PNG (a coloured square) for the photo upload. */
function png(size = 24) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const rows = [];
  for (let y = 0; y < size; y += 1) {
    const row = [0];
    for (let x = 0; x < size; x += 1) row.push(40 + x * 8, 90, 200 - y * 6);
    rows.push(Buffer.from(row));
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

/** The next date (YYYY-MM-DD) after today that falls on weekday WD (0 = Sunday). */
function nextWeekday(wd) {
  const d = new Date(Date.now() + 86400000);
  while (d.getUTCDay() !== wd) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Log in through the console's form (password, then the TOTP step when enrolled). */
async function consoleLogin(p, username, password, { withTotp = false } = {}) {
  await p.fill('input[name=username]', username);
  await p.fill('input[name=password]', password);
  await p.click('form button[type=submit]');
  if (withTotp) {
    await p.waitForSelector('input[name=totp_code]');
    await p.fill('input[name=totp_code]', await freshCode());
    await p.click('form button[type=submit]');
  }
}

/** The admin's own login from outside the browser (this ends the browser's session: one per admin). */
async function adminApi() {
  const s = new ApiSession(app, 'admin', ADMIN_PASSWORD);
  const { status: st } = await s.login(totpSecret ? { totp_code: await freshCode() } : {});
  assert.equal(st, 200);
  return s;
}

/** Another system admin, made on the command line, to check what the console did. */
let checkerSession = null;
async function checker() {
  if (!checkerSession) {
    checkerSession = createAdmin(app, 'checker', 'system-admin');
    const { status: st } = await checkerSession.login();
    assert.equal(st, 200);
  }
  return checkerSession;
}

/* --- set-up ----------------------------------------------------------------------------------------- */
before(async () => {
  app = await new Appliance().start();
  const { chromium } = await playwright();
  // Debian's Chromium: Playwright's own browser download is not used.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  ({ ctx: context, p: page } = await newPage());
  fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.stop();
});

/* --- tests ------------------------------------------------------------------------------------------- */
test('the TOTP helper gives the RFC 6238 test vector', () => {
  // RFC 6238 appendix B, SHA-1 secret "12345678901234567890" at T = 59 s: 94287082 (8 digits).
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59000), '287082');
  assert.equal(base32Decode('MZXW6===').toString(), 'foo');
});

test('translations: English and Japanese have the same keys and placeholders, and every key the code uses', () => {
  const web = path.join(TOP, 'web');
  const en = JSON.parse(fs.readFileSync(path.join(web, 'i18n', 'en.json'), 'utf8'));
  const ja = JSON.parse(fs.readFileSync(path.join(web, 'i18n', 'ja.json'), 'utf8'));
  assert.deepEqual(Object.keys(ja).sort(), Object.keys(en).sort());
  const vars = (x) => [...x.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join();
  for (const k of Object.keys(en)) assert.equal(vars(ja[k]), vars(en[k]), `placeholders of ${k}`);
  const files = [path.join(web, 'app.js'), path.join(web, 'index.html')];
  for (const dir of ['js', 'js/pages']) {
    for (const f of fs.readdirSync(path.join(web, dir))) if (f.endsWith('.js')) files.push(path.join(web, dir, f));
  }
  const used = new Set();
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\bt(?:Or)?\('([a-z0-9_.-]+)'/g)) used.add(m[1]);
    for (const m of src.matchAll(/data-i18n="([a-z0-9_.-]+)"/g)) used.add(m[1]);
  }
  // Keys built from values the API sends.
  const families = {
    'role.': ['system-admin', 'tenant-admin', 'operator', 'auditor'],
    'cred.kind.': ['card', 'pin', 'face', 'fingerprint', 'mobile'],
    'cred.status.': ['active', 'suspended', 'lost', 'revoked'],
    'commands.kind.': ['unlock', 'lockdown', 'resync', 'reboot', 'set_time', 'firmware'],
    'commands.state.': ['queued', 'sent', 'done', 'failed', 'expired'],
    'decision.': ['granted', 'unknown_credential', 'credential_inactive', 'credential_not_yet_valid', 'credential_expired',
      'person_suspended', 'person_not_yet_valid', 'person_expired', 'no_access_level', 'outside_schedule', 'holiday'],
    'day.': ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'holiday'],
    'day.short.': ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'holiday'],
    'jobs.status.': ['running', 'ok', 'failed', 'interrupted'],
    'jobs.trigger.': ['schedule', 'catch-up', 'manual'],
    'firmware.state.': ['pending', 'sending', 'done', 'failed'],
    'terminals.status.': ['pending', 'active', 'disabled'],
    'tokens.scope.': ['read', 'operate', 'manage'],
    'audit.outcome.': ['ok', 'denied', 'failed'],
    'admins.status.': ['active', 'disabled'],
    'people.status.': ['active', 'suspended'],
    'lang.': ['en', 'ja'],
  };
  for (const [prefix, list] of Object.entries(families)) for (const v of list) used.add(prefix + v);
  const missing = [...used].filter((k) => !(k in en) && k !== 'key');
  assert.deepEqual(missing, []);
});

test('keyboard only: first login, the password rule as the appliance words it, the forced change', async () => {
  await page.goto(`${app.url}/`);
  await ready(page, 'login');
  await shot('login');
  // Tab order: skip link, language, user name, password, log-in button.
  const focused = async () => page.evaluate(() => {
    const el = document.activeElement;
    return el.name || el.id || el.tagName.toLowerCase();
  });
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'skip');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'lang');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'username');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'password');
  // A wrong password first: the message is clear and says nothing about which part was wrong.
  await page.keyboard.type('not-the-password');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('.form-error').textContent.includes('invalid username or password'));
  const msg = await page.textContent('.form-error');
  assert.match(msg, /locked/);
  assert.equal(await focused(), 'password');
  await page.keyboard.type(app.bootstrapPassword());
  await page.keyboard.press('Enter');
  // The bootstrap admin must change the one-time password first.
  await page.waitForSelector('input[name=new_password]');
  assert.equal(await focused(), 'new_password');
  await page.keyboard.type('short');
  await page.keyboard.press('Tab');
  await page.keyboard.type('short');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('input[name=new_password]').getAttribute('aria-invalid') === 'true');
  const rule = await page.evaluate(() => document.querySelector('input[name=new_password]').closest('.field').querySelector('.error').textContent);
  assert.match(rule, /must be at least 8 characters long and contain an upper-case letter, a digit and a symbol/);
  await shot('password-rule');
  await page.fill('input[name=new_password]', '');
  await page.focus('input[name=new_password]');
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press('Enter');
  await ready(page, 'dashboard');
  assert.equal(await page.textContent('main h1'), 'Dashboard');
  assert.ok(!fs.existsSync(path.join(app.state, 'bootstrap-password')), 'the one-time password file is gone');
  // Focus is visible: the focused control gets an outline.
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.equal(outline, 'solid');
});

test('TOTP enrolment with a QR code drawn in the browser, recovery codes once, then login with TOTP', async () => {
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await go('#/settings', 'account');
  await page.click('#totp-start');
  await page.waitForSelector('#totp-qr');
  // Decode the QR code from the canvas pixels with an independent decoder.
  const { default: jsQR } = await import(path.join(NODE_MODULES, 'jsqr', 'dist', 'jsQR.js'));
  const img = await page.$eval('#totp-qr', (c) => ({ w: c.width, h: c.height, d: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) }));
  const code = jsQR(Uint8ClampedArray.from(img.d), img.w, img.h);
  assert.ok(code, 'the QR code decodes');
  const uri = new URL(code.data);
  assert.equal(uri.protocol, 'otpauth:');
  totpSecret = uri.searchParams.get('secret');
  assert.equal((await page.textContent('#totp-secret')).replace(/\s/g, ''), totpSecret);
  await shot('totp-enrolment');
  await page.fill('input[name=code]', await freshCode());
  await page.click('#totp-confirm-form button[type=submit]');
  await page.waitForSelector('#recovery-codes');
  assert.equal((await page.$$('#recovery-codes li')).length, 10);
  await shot('recovery-codes');
  await page.click('dialog[open] footer button:last-child');
  await page.waitForSelector('#totp-disable-form');
  // The secret never went into a URL.
  assert.ok(!requests.some((u) => u.includes(totpSecret)));
  // Log out and in again: password, then the code step.
  await page.click('#logout');
  await ready(page, 'login');
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('form button[type=submit]');
  await page.waitForSelector('input[name=totp_code]');
  await shot('login-totp');
  await page.fill('input[name=totp_code]', await freshCode());
  await page.click('form button[type=submit]');
  await ready(page, 'dashboard');
  // Nothing secret is kept in the browser's storage.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!/csrf|gh_session|secret/i.test(stored), stored);
});

test('a site, a door and a schedule made in the weekly grid with several windows a day', async () => {
  await go('#/access/sites', 'sites');
  await page.click('#sites-new');
  await dialog();
  await page.fill('dialog input[name=name]', 'Head office');
  await page.selectOption('dialog select[name=timezone]', 'Asia/Tokyo');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#sites-list td:has-text("Head office")');
  await page.waitForFunction(() => document.querySelector('#context').textContent.includes('Asia/Tokyo'));

  await go('#/access/doors', 'doors');
  await page.click('#doors-new');
  await dialog();
  await page.fill('dialog input[name=name]', 'Front door');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#doors-list td:has-text("Front door")');

  await go('#/access/schedules/new', 'schedule');
  await page.fill('input[name=name]', 'Office hours');
  await page.click('button[data-add=mon]');
  await page.fill('#win-mon .win-row:nth-child(1) [data-part=start]', '09:00');
  await page.fill('#win-mon .win-row:nth-child(1) [data-part=end]', '12:00');
  await page.click('button[data-add=mon]');
  await page.fill('#win-mon .win-row:nth-child(2) [data-part=start]', '13:00');
  await page.fill('#win-mon .win-row:nth-child(2) [data-part=end]', '18:00');
  assert.equal((await page.$$('tr[data-day=mon] svg rect.win')).length, 2, 'Monday shows two windows on its bar');
  await page.click('text=Copy to Tuesday–Friday');
  await page.click('button[data-add=sat]');
  await page.fill('#win-sat [data-part=start]', '10:00');
  await page.fill('#win-sat [data-part=end]', '12:00');
  await page.click('button[data-add=holiday]');
  await page.fill('#win-holiday [data-part=start]', '25:00');
  await page.fill('#win-holiday [data-part=end]', '11:00');
  await page.click('#schedule-form button[type=submit]');
  // A bad time is caught at its own row.
  await page.waitForSelector('#win-holiday .win-row .error:not(:empty)');
  await page.click('#win-holiday .win-row button');
  await page.click('#schedule-form button[type=submit]');
  await page.waitForFunction(() => /^#\/access\/schedules\/\d+$/.test(location.hash));
  await ready(page, 'schedule');
  await shot('schedule-grid');
  const s = await checker();
  const { doc } = await s.call('GET', '/api/v1/schedules');
  const sched = doc.items.find((x) => x.name === 'Office hours');
  assert.equal(sched.windows.length, 11);
  assert.deepEqual(sched.windows.filter((w) => w.day === 'wed').map((w) => `${w.start}-${w.end}`), ['09:00-12:00', '13:00-18:00']);
});

test('an access group, a person with a card and a photo, per-field errors, If-Match, and an access level', async () => {
  await go('#/access/groups', 'groups');
  await page.click('#groups-new');
  await dialog();
  await page.fill('dialog input[name=name]', 'Staff');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#groups-list td:has-text("Staff")');

  await go('#/people/new', 'person-new');
  await page.fill('input[name=name]', 'Hanako Yamada');
  await page.fill('input[name=email]', 'not an address');
  await page.click('#person-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('input[name=email]').getAttribute('aria-invalid') === 'true');
  assert.match(await page.evaluate(() => document.querySelector('input[name=email]').closest('.field').querySelector('.error').textContent), /e-mail/);
  await shot('person-field-error');
  await page.fill('input[name=email]', 'hanako@example.org');
  await page.fill('input[name=employee_no]', 'E1001');
  await page.check('fieldset[data-field=group_ids] label:has-text("Staff") input');
  await page.click('#person-form button[type=submit]');
  await page.waitForFunction(() => /^#\/people\/\d+$/.test(location.hash));
  await ready(page, 'person');
  const personId = Number((await page.evaluate(() => location.hash)).split('/').pop());

  // A card.
  await page.fill('#credential-form input[name=number]', CARD);
  await page.click('#credential-form button[type=submit]');
  await page.waitForSelector('#enrolment dd[data-kind=card] .badge.ok');
  assert.match(await page.textContent('#enrolment dd[data-kind=face]'), /not enrolled/);

  // A photo: preview first, then upload, then shown from the appliance.
  await page.setInputFiles('#photo-file', { name: 'hanako.png', mimeType: 'image/png', buffer: png() });
  await page.waitForFunction(() => document.getElementById('photo-preview').naturalWidth === 24);
  await page.click('#photo-upload');
  await page.waitForFunction(() => {
    const img = document.getElementById('person-photo');
    return img && !img.hidden && img.src.startsWith('blob:') && img.naturalWidth === 24;
  });
  await shot('person');

  // Someone else changes the person meanwhile: saving our change is refused (If-Match).
  const s = await checker();
  const { doc: current } = await s.call('GET', `/api/v1/people/${personId}`);
  const r = await s.call('PATCH', `/api/v1/people/${personId}`, { phone: '+81 3 0000 0000' }, { 'If-Match': `"${current.version}"` });
  assert.equal(r.status, 200);
  await page.fill('[name=notes]', 'Changed in the console');
  await page.click('#person-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#person-form .form-error').textContent.includes('Someone else changed'));
  await page.click('#person-form .form-error button');
  await page.waitForFunction(() => document.querySelector('input[name=phone]')?.value === '+81 3 0000 0000');
  await ready(page, 'person');
  await page.fill('[name=notes]', 'Changed in the console');
  await page.click('#person-form button[type=submit]');
  await statusIs('Saved.');
  const after = await s.call('GET', `/api/v1/people/${personId}`);
  assert.equal(after.doc.notes, 'Changed in the console');
  assert.equal(after.doc.version, current.version + 2);

  // The access level: group, schedule, door.
  await go('#/access/levels', 'levels');
  await page.click('#levels-new');
  await dialog();
  await page.fill('dialog input[name=name]', 'Staff in office hours');
  await page.selectOption('dialog select[name=group_id]', { label: 'Staff' });
  await page.selectOption('dialog select[name=schedule_id]', { label: 'Office hours' });
  await page.check('dialog fieldset[data-field=door_ids] input');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#levels-list td:has-text("Staff in office hours")');
  await shot('levels');
});

test('what-if: granted in office hours, refused at night with the reason', async () => {
  await go('#/access/check', 'whatif');
  await page.fill('input[name=card]', CARD);
  await page.selectOption('select[name=when]', 'at');
  await page.fill('input[name=at]', `${nextWeekday(3)}T10:30`);
  await page.click('#whatif-form button[type=submit]');
  await page.waitForSelector('#whatif-result [data-grant]');
  assert.equal(await page.getAttribute('#whatif-result [data-grant]', 'data-grant'), 'true');
  await page.fill('input[name=at]', `${nextWeekday(0)}T03:00`);
  await page.click('#whatif-form button[type=submit]');
  await page.waitForSelector('#whatif-result [data-grant=false]');
  assert.equal(await page.getAttribute('#whatif-result [data-grant]', 'data-reason'), 'outside_schedule');
  assert.match(await page.textContent('#whatif-result .reason'), /do not cover this time/);
  await shot('whatif');
});

test('people: search by exact card and e-mail, paging', async () => {
  await go('#/people', 'people');
  await page.selectOption('form[role=search] select[name=by]', 'card');
  await page.fill('form[role=search] input[name=value]', CARD_DIGITS);
  await page.click('form[role=search] button[type=submit]');
  await page.waitForSelector('#people-results td a:has-text("Hanako Yamada")');
  await page.selectOption('form[role=search] select[name=by]', 'email');
  await page.fill('form[role=search] input[name=value]', 'hanako@');
  await page.click('form[role=search] button[type=submit]');
  await page.waitForSelector('#people-results .empty');
  await page.click('text=Clear');
  await page.waitForSelector('#people-results td a:has-text("Hanako Yamada")');
});

test('moving on while a page still loads: the page left behind never draws over the one shown', async () => {
  await go('#/people', 'people');
  const href = await page.getAttribute('#people-results td a:has-text("Hanako Yamada")', 'href');
  // The person's record is held back in the browser until the admin has moved on to the audit log.
  let release;
  const held = new Promise((r) => { release = r; });
  const personUrl = new RegExp(`/api/v1/people/${href.split('/').pop()}$`);
  await page.route(personUrl, async (route) => { await held; await route.continue(); });
  try {
    await page.evaluate((h) => { location.hash = h; }, href);
    await page.waitForFunction(() => document.querySelector('main').dataset.route === 'person');
    await go('#/audit', 'audit');
    const answered = page.waitForResponse(personUrl);
    release();
    await answered;
    // The late answer has been handed to the person page; give it its turn to draw.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 200))));
    assert.equal(await page.getAttribute('main', 'data-route'), 'audit');
    assert.equal(await page.$('#person-form'), null, 'no person form on the audit page');
    assert.equal(await page.locator('main h1').count(), 1);
    assert.equal((await page.textContent('main h1')).trim(), 'Audit log');
  } finally {
    release();
    await page.unroute(personUrl);
  }
});

test('terminals: a one-time token shown once, a bundle downloaded once, an unlock command queued', async () => {
  await go('#/terminals', 'terminals');
  await page.click('#terminal-new');
  await dialog();
  await page.fill('dialog input[name=name]', 'Front reader');
  await page.fill('dialog input[name=model]', 'GH-100');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog[open] [data-secret]');
  assert.match(await page.textContent('dialog[open] [data-secret]'), /^ghe_/);
  await shot('terminal-token');
  await page.click('dialog[open] footer button:last-child');
  await page.waitForSelector('#terminals-list td a:has-text("Front reader")');

  // A bundle: the three PEMs in one file, offered once.
  await page.click('#terminal-new');
  await dialog();
  await page.fill('dialog input[name=name]', 'Side reader');
  await page.check('dialog input[value=bundle]');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#bundle-download');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#bundle-download')]);
  assert.match(dl.suggestedFilename(), /^terminal-t[0-9a-f]+\.pem$/);
  const pem = fs.readFileSync(await dl.path(), 'utf8');
  assert.match(pem, /BEGIN (EC )?PRIVATE KEY/);
  assert.equal((pem.match(/BEGIN CERTIFICATE/g) || []).length, 2);
  await page.click('dialog[open] footer button:last-child');
  await page.waitForFunction(() => !document.querySelector('dialog[open]'));

  // The door is controlled by the front reader.
  await go('#/access/doors', 'doors');
  await page.click('#doors-list button[aria-label^="Change door"]');
  await dialog();
  await page.selectOption('dialog select[name=terminal_id]', { label: 'Front reader' });
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#doors-list td a:has-text("Front reader")');

  await page.click('#doors-list td a:has-text("Front reader")');
  await ready(page, 'terminal');
  await page.selectOption('#command-form select[name=kind]', 'unlock');
  await page.fill('#command-form input[name=seconds]', '7');
  await page.click('#command-form button[type=submit]');
  await page.waitForSelector('#commands-list [data-state=queued]');
  assert.match(await page.textContent('#commands-list'), /Front door, 7 s/);
  await shot('terminal');
});

test('export XLSX: a real workbook with a People sheet', async () => {
  await go('#/people', 'people');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-xlsx')]);
  assert.equal(dl.suggestedFilename(), 'people.xlsx');
  const buf = fs.readFileSync(await dl.path());
  assert.equal(buf.subarray(0, 2).toString(), 'PK');
  const files = await unzip(buf);
  assert.match(files.get('xl/workbook.xml').toString(), /<sheet [^>]*name="People"/);
  const sheet = [...files.entries()].filter(([n]) => n.startsWith('xl/')).map(([, b]) => b.toString()).join('');
  assert.ok(sheet.includes('Hanako Yamada'), 'the person is in the workbook');
  assert.ok(!sheet.includes(CARD_DIGITS), 'card numbers are not exported');
  await page.waitForFunction(() => /Saved people\.xlsx/.test(document.getElementById('export-progress').textContent));
});

test('CSV import: the dry-run report, then the import with its progress', async () => {
  await go('#/people/import', 'people-import');
  const bad = 'name,email,employee_no,groups\r\nTaro Sato,taro@example.org,E2001,Staff\r\nJiro Ito,not-an-address,E2002,Staff\r\nSaburo Kato,saburo@example.org,E2003,\r\n';
  await page.setInputFiles('#import-file', { name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.click('#import-check');
  await page.waitForSelector('#import-report');
  assert.equal(await page.textContent('#import-report dd[data-k=invalid]'), '1');
  assert.match(await page.textContent('#import-report table'), /3\s*email/);
  assert.ok(await page.isDisabled('#import-apply'));
  await shot('import-dry-run');
  const good = bad.replace('not-an-address', 'jiro@example.org');
  await page.setInputFiles('#import-file', { name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await page.click('#import-check');
  await page.waitForFunction(() => document.querySelector('#import-report dd[data-k=valid]')?.textContent === '3' && !document.querySelector('#import-apply').disabled);
  await page.click('#import-apply');
  await page.waitForFunction(() => document.querySelector('#import-report dd[data-k=imported]')?.textContent === '3');
  assert.equal(await page.getAttribute('#import-progress', 'value'), '100');
  await shot('import-done');
  await go('#/people', 'people');
  await page.selectOption('form[role=search] select[name=by]', 'employee_no');
  await page.fill('form[role=search] input[name=value]', 'E2002');
  await page.click('form[role=search] button[type=submit]');
  await page.waitForSelector('#people-results td a:has-text("Jiro Ito")');
});

test('erasure: the confirmation says exactly what will be destroyed', async () => {
  await page.click('#people-results td a:has-text("Jiro Ito")');
  await ready(page, 'person');
  await page.fill('#credential-form input[name=number]', '5555 0000 1111');
  await page.click('#credential-form button[type=submit]');
  await page.waitForSelector('#enrolment dd[data-kind=card] .badge.ok');
  const id = (await page.evaluate(() => location.hash)).split('/').pop();
  await page.click('#erase-button');
  await page.waitForSelector('#erase-list');
  const items = await page.$$eval('#erase-list li', (els) => els.map((e) => e.textContent));
  assert.match(items[0], /Jiro Ito: Name, E-mail, Employee number/);
  assert.match(items[1], /Credentials \(1\): Card \*+1111/);
  assert.match(items.join(' '), /groups Staff/);
  assert.match(items.join(' '), /encryption key/);
  await shot('erase-confirmation');
  // Not without ticking the box.
  await page.click('dialog[open] [data-confirm]');
  assert.ok(await page.$('dialog[open] #erase-list'));
  await page.check('dialog[open] input[type=checkbox]');
  await page.click('dialog[open] [data-confirm]');
  await ready(page, 'people');
  const s = await checker();
  assert.equal((await s.call('GET', `/api/v1/people/${id}`)).status, 404);
});

test('audit log: a filter by action, and the chain verified', async () => {
  await go('#/audit', 'audit');
  await page.fill('#audit-filters input[name=action]', 'person.');
  await page.click('#audit-filters button[type=submit]');
  await page.waitForFunction(() => {
    const a = [...document.querySelectorAll('#audit-list [data-action]')].map((e) => e.dataset.action);
    return a.length > 0 && a.every((x) => x.startsWith('person.'));
  });
  const actions = await page.$$eval('#audit-list [data-action]', (els) => els.map((e) => e.dataset.action));
  assert.ok(actions.includes('person.erase') && actions.includes('person.create'), actions.join());
  await page.click('#audit-verify');
  await page.waitForSelector('#verify-result .notice.ok');
  assert.match(await page.textContent('#verify-result'), /intact/);
  await shot('audit');
});

test('jobs: run the audit check now and follow it to its end', async () => {
  await go('#/jobs/audit-verify', 'job');
  await page.click('button[data-run="audit-verify"]');
  await page.waitForSelector('#runs-list [data-status=ok]', { timeout: 60000 * SLOW });
  assert.match(await page.textContent('#runs-list'), /By hand/);
});

test('settings: admins and the password rule, an API token shown once, the allow-list lock-out, legal hold', async () => {
  await go('#/settings/admins', 'admins');
  await page.click('#admin-new');
  await dialog();
  await page.fill('dialog input[name=username]', 'operator1');
  await page.selectOption('dialog select[name=role]', 'operator');
  await page.fill('dialog input[name=password]', 'weak');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog[open] input[name=password][aria-invalid=true]');
  await page.fill('dialog input[name=password]', ADMIN_PASSWORD);
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('#admins-list td:has-text("operator1")');
  await shot('admins');

  // API tokens belong to a tenant: a system admin chooses one in the header.
  await go('#/settings/tokens', 'tokens');
  assert.match(await page.textContent('main'), /choose one in the header/);
  await page.selectOption('#tenant-select', 'default');
  await ready(page, 'tokens');
  await page.fill('#token-form input[name=name]', 'Payroll sync');
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('dialog[open] [data-secret]');
  assert.match(await page.textContent('dialog[open] [data-secret]'), /^ght_/);
  await page.click('dialog[open] footer button:last-child');
  await page.waitForSelector('#tokens-list td:has-text("Payroll sync")');
  await shot('tokens');

  // The system admins' own list: a range without our address would lock us out.
  await page.selectOption('#tenant-select', '');
  await go('#/settings/allowlist', 'allowlist');
  await page.fill('#allow-form input[name=cidr]', '10.0.0.0/8');
  await page.click('#allow-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('allow-error').textContent.includes('you would be locked out'));
  assert.match(await page.textContent('#allow-error'), /your own address 127\.0\.0\.1/);
  await shot('allowlist');

  await go('#/settings/tenants', 'tenants');
  await page.click('button[data-hold=default]');
  await page.click('dialog[open] [data-confirm]');
  await page.waitForSelector('#tenants-list .badge.warn');
  await shot('tenants');
  await page.click('button[data-hold=default]');
  await page.click('dialog[open] [data-confirm]');
  await page.waitForFunction(() => !document.querySelector('#tenants-list .badge.warn'));
});

test('an operator sees what the role allows; a page it may not use says so', async () => {
  const { ctx, p } = await newPage();
  try {
    await p.goto(`${app.url}/`);
    await ready(p, 'login');
    await consoleLogin(p, 'operator1', ADMIN_PASSWORD);
    // A new account must change its first password.
    await p.waitForSelector('input[name=new_password]');
    await p.fill('input[name=new_password]', 'Oper4tor-Passw0rd!');
    await p.fill('input[name=confirm]', 'Oper4tor-Passw0rd!');
    await p.click('form button[type=submit]');
    await ready(p, 'dashboard');
    const nav = await p.textContent('#nav');
    assert.ok(nav.includes('Terminals') && nav.includes('People'));
    assert.ok(!nav.includes('Admins and roles') && !nav.includes('Import people') && !nav.includes('Audit log'));
    await go('#/people/new', 'person-new', p);
    assert.match(await p.textContent('main'), /Your role may not do this/);
    await go('#/people', 'people', p);
    assert.equal(await p.$('a[href="#/people/new"]'), null);
  } finally {
    await ctx.close();
  }
});

test('session expiry: log in again over the page and keep what was typed', async () => {
  await go('#/people/new', 'person-new');
  await page.fill('input[name=name]', 'Kept While Typing');
  await page.fill('input[name=email]', 'kept@example.org');
  // Another login of the same admin ends this session (one live session per admin).
  const s = await adminApi();
  await page.click('#person-form button[type=submit]');
  await page.waitForSelector('dialog[open][data-reauth]');
  assert.equal(await page.inputValue('dialog[open] input[name=username]'), 'admin');
  await shot('session-expired');
  await page.fill('dialog[open] input[name=password]', ADMIN_PASSWORD);
  await page.click('dialog[open] form button[type=submit]');
  await page.fill('dialog[open] input[name=totp_code]', await freshCode());
  await page.click('dialog[open] form button[type=submit]');
  // The save that met the ended session went through afterwards.
  await page.waitForFunction(() => /^#\/people\/\d+$/.test(location.hash));
  await ready(page, 'person');
  assert.equal(await page.inputValue('input[name=name]'), 'Kept While Typing');
  assert.equal(await page.inputValue('input[name=email]'), 'kept@example.org');
  assert.equal((await s.call('GET', '/api/v1/session')).status, 401);
});

test('Japanese: chosen in the header, kept with the admin, labels and dates in Japanese', async () => {
  await go('#/', 'dashboard');
  await page.selectOption('#lang', 'ja');
  await page.waitForFunction(() => document.documentElement.lang === 'ja' && document.querySelector('main h1')?.textContent === 'ダッシュボード');
  await ready(page, 'dashboard');
  assert.match(await page.textContent('#nav'), /人員.*アクセスグループ/s);
  await shot('dashboard-ja');
  const s = await checker();
  const me = await s.call('GET', '/api/v1/admins');
  assert.equal(me.doc.items.find((a) => a.username === 'admin').language, 'ja');
  // Another browser with an English preference opens in the admin's language.
  await page.reload();
  await ready(page);
  if (await page.$('input[name=username]')) {
    assert.equal(await page.textContent('main h1'), 'Gatehouse にログイン');
    await consoleLogin(page, 'admin', ADMIN_PASSWORD, { withTotp: true });
  }
  await ready(page, 'dashboard');
  assert.equal(await page.textContent('main h1'), 'ダッシュボード');
  await go('#/access/schedules', 'schedules');
  assert.match(await page.textContent('main'), /月 09:00–12:00/);
  await page.click('#schedules-list a:has-text("Office hours")');
  await ready(page, 'schedule');
  assert.match(await page.textContent('main'), /月曜日/);
  await shot('schedule-ja');
  await go('#/people', 'people');
  await shot('people-ja');
  await go('#/audit', 'audit');
  const when = await page.textContent('#audit-list time');
  assert.match(when, /\d{4}\/\d{2}\/\d{2}/, 'dates in the Japanese form');
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await ready(page, 'audit');
});

/* --- scale: every page with PEOPLE people ----------------------------------------------------------- */
test(`every page loads with ${PEOPLE.toLocaleString('en')} people (times printed, not asserted), and a screenshot of each`, { timeout: 900000 * SLOW }, async () => {
  // A tenant admin of its own does the seeding, so the browser's session (one per admin) stays.
  const seeder = createAdmin(app, 'seeder', 'tenant-admin', { tenant: 'default' });
  assert.equal((await seeder.login()).status, 200);
  await seeder.call('POST', '/api/v1/access-groups', { name: 'Bulk' });
  const t0 = Date.now();
  const chunk = 10000;
  for (let start = 0; start < PEOPLE; start += chunk) {
    const rows = ['name,email,employee_no,card,groups'];
    for (let i = start; i < Math.min(PEOPLE, start + chunk); i += 1) {
      rows.push(`Bulk Person ${i},bulk${i}@example.org,B${String(i).padStart(7, '0')},9${String(i).padStart(9, '0')},Bulk`);
    }
    const res = await seeder.raw('POST', '/api/v1/people/import', `${rows.join('\r\n')}\r\n`, { 'Content-Type': 'text/csv' });
    assert.equal(res.status, 200, res.body.toString().slice(0, 300));
  }
  console.log(`# seeded ${PEOPLE} people through the CSV import in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const ids = {};
  const first = async (p) => (await seeder.call('GET', p)).doc.items[0];
  ids.person = (await seeder.call('GET', '/api/v1/people?employee_no=E1001')).doc.items[0].id;
  ids.schedule = (await first('/api/v1/schedules')).id;
  ids.group = (await seeder.call('GET', '/api/v1/access-groups')).doc.items.find((g) => g.name === 'Bulk').id;
  ids.terminal = (await first('/api/v1/devices')).id;
  await seeder.call('POST', '/api/v1/holidays', { name: 'Public holidays', dates: [{ date: '2027-01-01', name: "New Year's Day" }] });
  ids.holiday = (await first('/api/v1/holidays')).id;

  const pages = [
    ['#/', 'dashboard', 'dashboard'], ['#/people', 'people', 'people'], [`#/people/${ids.person}`, 'person', 'person'],
    ['#/people/new', 'person-new', 'person-new'], ['#/people/import', 'people-import', 'import'],
    ['#/access/sites', 'sites', 'sites'], ['#/access/doors', 'doors', 'doors'], ['#/access/schedules', 'schedules', 'schedules'],
    [`#/access/schedules/${ids.schedule}`, 'schedule', 'schedule'], ['#/access/holidays', 'holidays', 'holidays'],
    [`#/access/holidays/${ids.holiday}`, 'holiday', 'holiday-set'], ['#/access/groups', 'groups', 'groups'],
    [`#/access/groups/${ids.group}`, 'group', 'group-members'], ['#/access/levels', 'levels', 'levels'],
    ['#/access/check', 'whatif', 'whatif'], ['#/terminals', 'terminals', 'terminals'], [`#/terminals/${ids.terminal}`, 'terminal', 'terminal'],
    ['#/terminals/firmware', 'firmware', 'firmware'], ['#/audit', 'audit', 'audit'], ['#/jobs', 'jobs', 'jobs'],
    ['#/jobs/audit-verify', 'job', 'job-runs'], ['#/sync', 'sync', 'sync'], ['#/settings', 'account', 'account'], ['#/settings/admins', 'admins', 'admins'],
    ['#/settings/tokens', 'tokens', 'tokens'], ['#/settings/allowlist', 'allowlist', 'allowlist'], ['#/settings/blocks', 'blocks', 'blocks'],
    ['#/settings/tenants', 'tenants', 'tenants'], ['#/settings/policy', 'policy', 'policy'],
  ];
  // Start from a fresh load: no search or filter left from the tests above.
  await page.goto('about:blank');
  await page.goto(`${app.url}/#/`);
  await ready(page, 'dashboard');
  // Requests in flight, but for the dashboard's live stream: it stays open
  // as long as the dashboard is shown, so counting it would wait for ever
  // whenever it happened to start before the wait began.
  const inflight = new Set();
  const counted = (r) => !r.url().includes('/api/v1/stream');
  page.on('request', (r) => { if (counted(r)) inflight.add(r); });
  page.on('requestfinished', (r) => inflight.delete(r));
  page.on('requestfailed', (r) => inflight.delete(r));
  const idle = async () => {
    const deadline = Date.now() + 60000 * SLOW;
    while (inflight.size > 0) {
      if (Date.now() > deadline) throw new Error(`still in flight: ${[...inflight].map((r) => r.url()).join(', ')}`);
      await sleep(2);
    }
  };
  const results = [];
  const unlabelled = [];
  for (const [hash, route, name] of pages) {
    await go('#/settings/policy', 'policy'); // a light page between two measurements
    await idle();
    await sleep(150); // a person's pace, not a script's: the appliance rate-limits per address
    const t = Date.now();
    await go(hash, route);
    await idle();
    const wall = Date.now() - t;
    const measured = await page.evaluate((r) => {
      const m = performance.getEntriesByName(`gh:route ${r}`, 'measure');
      const v = m.length ? m[m.length - 1].duration : NaN;
      performance.clearMeasures();
      return v;
    }, route);
    results.push({ page: hash, route: measured, idle: wall });
    // Every control can be told apart without seeing it: a label, or an aria-label.
    const bare = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden' && el.getClientRects().length)
      .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.labels && el.labels.length) ||
        (el.tagName === 'BUTTON' && el.textContent.trim())))
      .map((el) => el.outerHTML.slice(0, 100)));
    unlabelled.push(...bare.map((x) => `${hash}: ${x}`));
    await shot(name);
  }
  // A cold load: the whole console from nothing (page, modules, translations, session) to the page drawn.
  for (const [hash, route] of [['#/', 'dashboard'], ['#/people', 'people'], [`#/people/${ids.person}`, 'person']]) {
    await page.goto('about:blank');
    const t = Date.now();
    await page.goto(`${app.url}/${hash}`);
    await ready(page, route);
    await idle();
    const wall = Date.now() - t;
    const drawn = await page.evaluate((r) => {
      const m = performance.getEntriesByName(`gh:route ${r}`, 'measure');
      return m.length ? m[m.length - 1].startTime + m[m.length - 1].duration : NaN;
    }, route);
    results.push({ page: `${hash} (cold load)`, route: drawn, idle: wall });
  }
  console.log(`# page load times with ${PEOPLE} people on loopback (ms): route = from the hash change (cold load: from navigation start) to the page drawn, by the page's own performance measure; idle = until no request is in flight, by the test's clock`);
  console.log('# page                                   route     idle');
  for (const r of results) console.log(`# ${r.page.padEnd(36)} ${r.route.toFixed(1).padStart(8)} ${Number.isNaN(r.idle) ? '       -' : String(r.idle).padStart(8)}`);
  const worst = results.reduce((a, b) => (b.route > a.route ? b : a));
  console.log(`# slowest: ${worst.page} ${worst.route.toFixed(1)} ms`);
  fs.writeFileSync(path.join(SCREENSHOTS, 'page-load-times.txt'),
    results.map((r) => `${r.page}\t${r.route.toFixed(1)}\t${r.idle}`).join('\n') + '\n');

  assert.deepEqual(unlabelled, [], 'controls without a label');

  // The people list pages through them all without downloading them: 50 a page.
  await go('#/people', 'people');
  assert.equal((await page.$$('#people-results tbody tr')).length, 50);
  await page.click('text=Next page');
  await page.waitForFunction(() => document.querySelector('.pager span').textContent === 'Page 2');
  await seeder.call('DELETE', '/api/v1/session');
});

test('tablet width: the navigation moves above the page and nothing needs sideways scrolling', async () => {
  const { ctx, p } = await newPage({ viewport: { width: 820, height: 1180 } });
  try {
    await p.goto(`${app.url}/`);
    await ready(p, 'login');
    await consoleLogin(p, 'operator1', 'Oper4tor-Passw0rd!');
    await ready(p, 'dashboard');
    const box = await p.$eval('#nav', (n) => n.getBoundingClientRect().toJSON());
    const main = await p.$eval('main', (n) => n.getBoundingClientRect().toJSON());
    assert.ok(box.bottom <= main.top + 1, 'the navigation is above the page');
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
    await shot('tablet-dashboard', p);
  } finally {
    await ctx.close();
  }
});

test('no script errors and no Content-Security-Policy violations in any page', () => {
  assert.deepEqual(problems, []);
});
