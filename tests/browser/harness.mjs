// Browser-test harness: starts the real `gatehouse serve` on free loopback
// ports with a temporary state directory (like tests/e2e/harness.py's
// Appliance), talks HTTPS to it from Node (checking the appliance's own
// certificate), and launches Debian's Chromium through playwright-core.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const TOP = path.resolve(HERE, '..', '..');
export const BUILD = path.resolve(process.env.GH_BUILD || path.join(TOP, 'build'));
export const BINARY = path.join(BUILD, 'gatehouse');
export const SANITIZED = process.env.GH_SANITIZED === '1';
export const SLOW = SANITIZED ? 4 : 1;
// Tooling from the npm registry, installed by the Makefile's NPM rule.
export const NODE_MODULES = path.resolve(process.env.GH_NPM_MODULES || path.join(TOP, 'build', 'npm', 'node_modules'));
export const CHROMIUM = process.env.GH_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve(process.env.GH_SCREENSHOTS || path.join(TOP, 'build', 'screenshots'));
export const ADMIN_PASSWORD = 'Adm1n-Passw0rd!';

export async function playwright() {
  return import(path.join(NODE_MODULES, 'playwright-core', 'index.mjs'));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Appliance {
  constructor({ sets = [] } = {}) {
    this.state = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-browser-'));
    this.sets = ['web.listen=127.0.0.1:0', 'devices.listen=127.0.0.1:0', ...sets];
    this.lines = [];
    this.proc = null;
    this.port = null;
  }

  async start(timeoutMs = 15000 * SLOW) {
    const args = ['serve', '--state-dir', this.state];
    for (const s of this.sets) args.push('--set', s);
    this.proc = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const line of this.lines) {
        const m = /listening on https:\/\/[^ ]+:(\d+)/.exec(line);
        if (m) {
          this.port = Number(m[1]);
          return this;
        }
      }
      if (this.proc.exitCode != null) throw new Error(`gatehouse exited ${this.proc.exitCode}:\n${this.log()}`);
      await sleep(20);
    }
    throw new Error(`gatehouse did not start:\n${this.log()}`);
  }

  log(n = 80) {
    return this.lines.slice(-n).join('\n');
  }

  get url() {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The certificate served since the start (kept: a replacement stored through the API serves only after a restart). */
  get ca() {
    if (!this.servedCa) this.servedCa = fs.readFileSync(path.join(this.state, 'tls', 'server.crt'));
    return this.servedCa;
  }

  /** The device link's port (MQTT over TLS), from the log. */
  get mqttPort() {
    for (const line of this.lines) {
      const m = /terminals on mqtts:\/\/[^ ]+:(\d+)/.exec(line);
      if (m) return Number(m[1]);
    }
    throw new Error(`no device link port in the log:\n${this.log()}`);
  }

  bootstrapPassword() {
    return fs.readFileSync(path.join(this.state, 'bootstrap-password'), 'utf8').trim();
  }

  /** The command line against this state directory (admin create ...). */
  gatehouse(args, input) {
    return execFileSync(BINARY, [...args, '--state-dir', this.state], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** One HTTPS request from Node; returns {status, headers, body: Buffer}. */
  request(method, urlPath, { body, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
      const hdrs = { ...headers };
      let data = body;
      if (body != null && !(body instanceof Buffer) && typeof body !== 'string') {
        data = JSON.stringify(body);
        hdrs['Content-Type'] = 'application/json';
      }
      if (data != null) hdrs['Content-Length'] = Buffer.byteLength(data);
      const req = https.request({
        host: '127.0.0.1', port: this.port, path: urlPath, method, headers: hdrs, ca: this.ca, servername: 'localhost',
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.setTimeout(600000, () => req.destroy(new Error('timeout')));
      if (data != null) req.write(data);
      req.end();
    });
  }

  async stop() {
    if (this.proc && this.proc.exitCode == null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([done, sleep(20000 * SLOW)]);
      if (this.proc.exitCode == null) this.proc.kill('SIGKILL');
    }
    const sanitizer = this.lines.find((l) => /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/.test(l));
    fs.rmSync(this.state, { recursive: true, force: true });
    if (sanitizer) throw new Error(`sanitizer report:\n${this.log(200)}`);
  }
}

/** A console session from Node (cookie and CSRF token), for setting up and checking. */
export class ApiSession {
  constructor(app, username, password) {
    Object.assign(this, { app, username, password, cookie: null, csrf: null });
  }

  async login(extra = {}) {
    const res = await this.app.request('POST', '/api/v1/session', { body: { username: this.username, password: this.password, ...extra } });
    const doc = res.body.length ? JSON.parse(res.body) : null;
    if (res.status === 200) {
      this.cookie = /gh_session=([^;]+)/.exec(res.headers['set-cookie'].join(';'))[1];
      this.csrf = doc.csrf_token;
    }
    return { status: res.status, doc };
  }

  async raw(method, urlPath, body, headers = {}) {
    const h = { ...headers };
    if (this.cookie) h.Cookie = `gh_session=${this.cookie}`;
    if (this.csrf && method !== 'GET') h['X-CSRF-Token'] = this.csrf;
    return this.app.request(method, urlPath, { body, headers: h });
  }

  async call(method, urlPath, body, headers) {
    const res = await this.raw(method, urlPath, body, headers);
    let doc = null;
    try {
      doc = res.body.length ? JSON.parse(res.body) : null;
    } catch {
      doc = res.body;
    }
    return { status: res.status, doc, headers: res.headers };
  }
}

/** Create an admin on the command line (works while the service runs). */
export function createAdmin(app, username, role, { password = ADMIN_PASSWORD, tenant } = {}) {
  const args = ['admin', 'create', '--username', username, '--role', role, '--password-stdin'];
  if (tenant) args.push('--tenant', String(tenant));
  app.gatehouse(args, `${password}\n`);
  return new ApiSession(app, username, password);
}

/**
 * A small ZIP reader (central directory, stored or deflated entries) to
 * check the XLSX export without another package.
 */
export async function unzip(buf) {
  const zlib = await import('node:zlib');
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd -= 1;
  if (eocd < 0) throw new Error('not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const files = new Map();
  for (let i = 0; i < count; i += 1) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nlen = buf.readUInt16LE(p + 28);
    const xlen = buf.readUInt16LE(p + 30);
    const clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nlen).toString('utf8');
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataStart, dataStart + csize);
    files.set(name, method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw));
    p += 46 + nlen + xlen + clen;
  }
  return files;
}

/* --- pages: what every browser test does with them ------------------------------------------------ */

/** Record a page's script errors and CSP reports in problems (asserted empty at the end); slow builds wait longer. */
export function watchPage(p, problems) {
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  p.setDefaultTimeout(15000 * SLOW);
}

/** The console has drawn route (any route when null), with no login dialog over it. */
export async function ready(p, route) {
  await p.waitForFunction((r) => {
    const m = document.querySelector('main');
    return m && m.getAttribute('aria-busy') === 'false' && (!r || m.dataset.route === r) && !document.querySelector('dialog[open][data-reauth]');
  }, route);
}

/** Follow the console's link to hash and wait for route. */
export async function goTo(p, hash, route) {
  await p.evaluate((h) => { location.hash = h; }, hash);
  await p.waitForFunction((h) => location.hash === h, hash);
  await ready(p, route);
}

/** shot(name, page): full-page screenshots numbered in order, as SCREENSHOTS/PREFIXNN-name.png. */
export function screenshotter(prefix) {
  let n = 0;
  return async (name, p) => {
    n += 1;
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SCREENSHOTS, `${prefix}${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
}
