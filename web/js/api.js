// The API client. The session cookie is HttpOnly (no script sees it); the
// CSRF token from the login answer lives in this module's memory only,
// never in storage or a URL. Errors arrive as
// {"error": {"code", "message", "fields": [{field, reason}]}} and are
// thrown as ApiError, whose fields the forms map onto their controls.
//
// When the session ends (401), every request waits while the shell asks
// the admin to log in again over the page (what was typed stays in the
// page), then is sent again: a 401 means the server did nothing. No
// further request goes out with the dead cookie meanwhile.

import { saveBlob } from './dom.js';

export class ApiError extends Error {
  constructor(status, code, message, fields = [], retryAfter = 0, body = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

const state = { csrf: null, tenant: null, gate: null, handlers: {} };

export function configure(handlers) {
  state.handlers = handlers;
}

export function setCsrf(token) {
  state.csrf = token || null;
}

/** System admins choose a tenant (X-Tenant: slug); null acts on the appliance. */
export function setTenant(slug) {
  state.tenant = slug || null;
}

export function tenant() {
  return state.tenant;
}

function url(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v != null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function headersFor(method, opts) {
  const hdrs = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && state.csrf) hdrs['X-CSRF-Token'] = state.csrf;
  if (state.tenant && !opts.noTenant) hdrs['X-Tenant'] = state.tenant;
  if (opts.version != null) hdrs['If-Match'] = `"${opts.version}"`;
  let body = opts.body;
  if (body !== undefined && !(body instanceof Blob) && typeof body !== 'string') {
    body = JSON.stringify(body);
    hdrs['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    hdrs['Content-Type'] = opts.contentType || (body instanceof Blob && body.type) || 'application/octet-stream';
  }
  return { hdrs, body };
}

function fetchSend(method, path, opts) {
  const { hdrs, body } = headersFor(method, opts);
  return fetch(url(path, opts.query), {
    method, headers: hdrs, body, credentials: 'same-origin', cache: 'no-store', redirect: 'error',
  });
}

/* XMLHttpRequest for uploads, because fetch reports no upload progress. The
 * answer is wrapped as a Response so both paths are handled alike. */
function xhrSend(method, path, opts) {
  const { hdrs, body } = headersFor(method, opts);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url(path, opts.query));
    xhr.responseType = 'blob';
    for (const [k, v] of Object.entries(hdrs)) xhr.setRequestHeader(k, v);
    if (opts.onProgress) {
      xhr.upload.addEventListener('progress', (e) => opts.onProgress(e.loaded, e.lengthComputable ? e.total : 0, 'upload'));
      xhr.upload.addEventListener('load', () => opts.onProgress(1, 1, 'processing'));
    }
    xhr.addEventListener('load', () => {
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      const status = xhr.status;
      resolve(new Response(status === 204 || status === 304 ? null : xhr.response, { status, headers }));
    });
    xhr.addEventListener('error', () => reject(new TypeError('network error')));
    xhr.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    xhr.send(body === undefined ? null : body);
  });
}

async function toError(res) {
  let doc = null;
  try {
    doc = await res.clone().json();
  } catch {
    doc = null;
  }
  const e = (doc && doc.error) || {};
  const retry = parseInt(res.headers.get('Retry-After') || '0', 10) || 0;
  return new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.fields, retry, doc);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * api(method, path, {body, query, version, raw, login, upload, onProgress})
 *   body: an object (sent as JSON), a Blob/File or a string (contentType)
 *   version: the record's version, sent as If-Match
 *   raw: return the Response (downloads, images, the import report)
 */
export async function api(method, path, opts = {}) {
  for (let attempt = 0; ; attempt += 1) {
    if (state.gate && !opts.login) await state.gate;
    const res = await (opts.upload ? xhrSend : fetchSend)(method, path, opts);
    if (res.ok || (opts.raw && res.status < 500 && opts.rawStatuses && opts.rawStatuses.includes(res.status))) {
      if (opts.raw) return res;
      if (res.status === 204) return null;
      const text = await res.text();
      return text ? JSON.parse(text) : null;
    }
    const err = await toError(res);
    const h = state.handlers;
    if (res.status === 401 && !opts.login && attempt < 3 && h.onAuthLost &&
        (err.code === 'session_expired' || err.code === 'unauthenticated')) {
      if (!state.gate) {
        state.gate = h.onAuthLost(err).finally(() => { state.gate = null; });
      }
      await state.gate;
      continue;
    }
    if (res.status === 403 && err.code === 'csrf' && attempt === 0 && !opts.login) {
      await refreshSession();
      continue;
    }
    if (res.status === 403 && err.code === 'password_change_required' && h.onPasswordChange) {
      h.onPasswordChange();
    }
    if (res.status === 403 && err.code === 'totp_enrolment_required' && h.onTotpRequired) {
      h.onTotpRequired(); // turned on while this admin was working
    }
    if (res.status === 429 && method === 'GET' && attempt === 0 && err.retryAfter <= 5) {
      await sleep(Math.max(1, err.retryAfter) * 1000);
      continue;
    }
    throw err;
  }
}

/** GET /api/v1/session: who is logged in, and the CSRF token again. */
export async function refreshSession() {
  const res = await fetchSend('GET', '/api/v1/session', {});
  if (!res.ok) throw await toError(res);
  const s = await res.json();
  setCsrf(s.csrf_token);
  return s;
}

export function login(body) {
  return api('POST', '/api/v1/session', { body, login: true, noTenant: true });
}

/** The whole of a listing (small lists only), up to `max` items. */
export async function listAll(path, query = {}, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api('GET', path, { query: { ...query, limit: 500, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return { items, truncated: Boolean(cursor) };
}

function filenameFrom(res, fallback) {
  const cd = res.headers.get('Content-Disposition') || '';
  const m = /filename\*=UTF-8''([^;]+)|filename="([^"]+)"|filename=([^;]+)/i.exec(cd);
  const name = m ? decodeURIComponent(m[1] || m[2] || m[3]).trim() : fallback;
  // Only a plain file name, whatever the header says.
  return name.replace(/[\\/\u0000-\u001f]/g, '_') || fallback;
}

/** Fetch a file and offer it as a download; progress reports bytes received. */
export async function download(path, { query, fallbackName = 'download', onProgress } = {}) {
  const res = await api('GET', path, { query, raw: true });
  const type = res.headers.get('Content-Type') || 'application/octet-stream';
  let blob;
  if (onProgress && res.body) {
    const reader = res.body.getReader();
    const chunks = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      onProgress(received);
    }
    blob = new Blob(chunks, { type });
  } else {
    blob = await res.blob();
  }
  const filename = filenameFrom(res, fallbackName);
  saveBlob(blob, filename);
  return { blob, filename };
}
