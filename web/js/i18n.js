// Translations: every visible string comes from web/i18n/LANG.json.
// t('key', {name: 'x'}) fills {name} placeholders. A missing key shows the
// key itself (and a browser-test checks that none is missing).

export const LANGUAGES = ['en', 'ja'];
const state = { lang: 'en', strings: {}, listeners: [] };
const cache = new Map();

async function load(lang) {
  if (!cache.has(lang)) {
    cache.set(lang, fetch(`/assets/i18n/${lang}.json`).then((res) => {
      if (!res.ok) throw new Error(`translations ${lang}: ${res.status}`);
      return res.json();
    }));
  }
  try {
    return await cache.get(lang);
  } catch (e) {
    cache.delete(lang);
    throw e;
  }
}

export function t(key, vars) {
  let s = state.strings[key];
  if (s == null) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] == null ? m : String(vars[k])));
  return s;
}

/** t() when the key exists, else the fallback (for codes the API may add). */
export function tOr(key, fallback, vars) {
  return key in state.strings ? t(key, vars) : fallback;
}

export function lang() {
  return state.lang;
}

/** The browser's preference, as one of ours. */
export function browserLanguage() {
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

export function onLanguageChange(fn) {
  state.listeners.push(fn);
}

/** Fill the static parts of the shell page marked with data-i18n. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  state.strings = await load(lang);
  state.lang = lang;
  document.documentElement.lang = lang;
  applyStatic();
  for (const fn of state.listeners) fn(lang);
}
