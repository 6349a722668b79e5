// Dates, times and numbers, shown in the site's time zone (the zone of the
// tenant's site, chosen in the header when there are several) and the
// admin's language. The API speaks UTC; civil times (validity bounds,
// schedule windows) are already local to a site and are shown as they are.

import { lang, t } from './i18n.js';

const state = { zone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' };
const formatters = new Map();

export function zone() {
  return state.zone;
}

export function setZone(z) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: z });
    state.zone = z;
  } catch {
    state.zone = 'UTC';
  }
}

function formatter(kind) {
  const key = `${lang()}|${state.zone}|${kind}`;
  let f = formatters.get(key);
  if (!f) {
    const opts = { timeZone: state.zone };
    if (kind === 'datetime') Object.assign(opts, { dateStyle: 'medium', timeStyle: 'medium' });
    else if (kind === 'date') Object.assign(opts, { dateStyle: 'medium' });
    else if (kind === 'time') Object.assign(opts, { timeStyle: 'medium' });
    f = new Intl.DateTimeFormat(lang() === 'ja' ? 'ja-JP' : 'en-GB', opts);
    formatters.set(key, f);
  }
  return f;
}

/** An instant from the API ("2026-11-26T08:00:00Z") in the site's zone. */
export function dateTime(iso) {
  if (!iso) return t('common.never');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : formatter('datetime').format(d);
}

export function date(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : formatter('date').format(d);
}

/** A civil time "YYYY-MM-DDTHH:MM:SS" (already local to the site): shown as is, readably. */
export function civil(s) {
  if (!s) return '';
  return String(s).replace('T', ' ').replace(/:00$/, '');
}

export function number(n) {
  return new Intl.NumberFormat(lang() === 'ja' ? 'ja-JP' : 'en-GB').format(n);
}

export function bytes(n) {
  if (n == null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function duration(ms) {
  if (ms == null) return '';
  if (ms < 1000) return t('common.ms', { n: ms });
  return t('common.seconds', { n: (ms / 1000).toFixed(1) });
}

/** How far ZONE's wall clock is ahead of UTC at instant D, in ms. */
export function zoneOffset(z, d) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: z, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(d);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return asUtc - Math.floor(d.getTime() / 1000) * 1000;
}

/** A wall-clock time "YYYY-MM-DDTHH:MM[:SS]" in zone Z as an instant (Date). */
export function fromLocal(value, z = state.zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || '');
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let at = guess - zoneOffset(z, new Date(guess));
  // Near a daylight-saving change the offset at the result may differ.
  at = guess - zoneOffset(z, new Date(at));
  return new Date(at);
}

/** An instant as the "YYYY-MM-DDTHH:MM" of a datetime-local input in zone Z. */
export function toLocalInput(d, z = state.zone) {
  const local = new Date(d.getTime() + zoneOffset(z, d));
  return local.toISOString().slice(0, 16);
}

/** UTC "2026-11-26T08:00:00Z", the API's form. */
export function utc(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A datetime-local value as the API's civil time "YYYY-MM-DDTHH:MM:SS". */
export function civilFromInput(v) {
  if (!v) return null;
  return v.length === 16 ? `${v}:00` : v;
}

/** The API's civil time as a datetime-local value. */
export function civilToInput(s) {
  if (!s) return '';
  return s.length === 10 ? `${s}T00:00` : s.slice(0, 19);
}
