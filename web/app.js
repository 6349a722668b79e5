// The console shell: loads translations and shows the appliance's status.
// No inline script (the CSP forbids it) and nothing from outside the box.

const state = { lang: 'en', strings: {} };

async function loadStrings(lang) {
  const res = await fetch(`/assets/i18n/${lang}.json`);
  if (!res.ok) throw new Error(`translations ${lang}: ${res.status}`);
  return res.json();
}

function t(key) {
  return state.strings[key] ?? key;
}

function applyStrings() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}

async function setLanguage(lang) {
  state.strings = await loadStrings(lang);
  state.lang = lang;
  localStorage.setItem('lang', lang);
  applyStrings();
  await refresh();
}

function show(id, text, ok) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = ok ? 'ok' : 'bad';
}

async function refresh() {
  try {
    const h = await (await fetch('/healthz')).json();
    show('health', t('status.ok'), h.status === 'ok');
    document.getElementById('version').textContent = h.version;
  } catch {
    show('health', t('status.unreachable'), false);
  }
  try {
    const res = await fetch('/readyz');
    show('ready', res.ok ? t('status.ready_ok') : t('status.not_ready'), res.ok);
  } catch {
    show('ready', t('status.unreachable'), false);
  }
}

const saved = localStorage.getItem('lang');
const initial = saved || ((navigator.language || 'en').startsWith('ja') ? 'ja' : 'en');
const select = document.getElementById('lang');
select.value = initial;
select.addEventListener('change', () => setLanguage(select.value));
setLanguage(initial).catch((e) => console.error(e));
