// The console's shell: logging in (password, TOTP step, forced password
// change), the session (renewed over the page when it ends), the header
// (tenant, time zone, language, who), the navigation and a hash router
// (#/people/12). Pages are modules under js/pages/, loaded on first use.

import { h, clear, replace } from './dom.js';
import { t, setLanguage, lang, browserLanguage, onLanguageChange, LANGUAGES } from './i18n.js';
import * as api from './api.js';
import { setZone, zone } from './fmt.js';
import {
  setPermissions, can, announce, alertMessage, errorText, field, showErrors, clearErrors, openDialog,
  notice, button, failed,
} from './ui.js';
import { store, forgetAll } from './store.js';

const LANG_KEY = 'gh.lang'; // a preference, not a secret: the only thing kept in the browser

/* --- routes ----------------------------------------------------------------------------------- */
const P = (m, p) => [m, p];
const ROUTES = [
  { id: 'dashboard', path: '/', mod: 'dashboard', fn: 'page', nav: 'overview', label: 'nav.dashboard' },
  { id: 'events', path: '/events', mod: 'events', fn: 'page', nav: 'overview', label: 'nav.events', perm: P('GET', '/api/v1/events') },
  { id: 'alerts', path: '/alerts', mod: 'alerts', fn: 'page', nav: 'overview', label: 'nav.alerts', perm: P('GET', '/api/v1/alerts') },
  { id: 'people', path: '/people', mod: 'people', fn: 'list', nav: 'people', label: 'nav.people', perm: P('GET', '/api/v1/people') },
  { id: 'people-import', path: '/people/import', mod: 'people', fn: 'importPage', nav: 'people', label: 'nav.import', perm: P('POST', '/api/v1/people/import') },
  { id: 'person-new', path: '/people/new', mod: 'person', fn: 'create', perm: P('POST', '/api/v1/people') },
  { id: 'person', path: '/people/:id', mod: 'person', fn: 'detail', perm: P('GET', '/api/v1/people/{id}') },
  { id: 'sites', path: '/access/sites', mod: 'access', fn: 'sites', nav: 'access', label: 'nav.sites', perm: P('GET', '/api/v1/sites') },
  { id: 'doors', path: '/access/doors', mod: 'access', fn: 'doors', nav: 'access', label: 'nav.doors', perm: P('GET', '/api/v1/doors') },
  { id: 'schedules', path: '/access/schedules', mod: 'schedules', fn: 'list', nav: 'access', label: 'nav.schedules', perm: P('GET', '/api/v1/schedules') },
  { id: 'schedule', path: '/access/schedules/:id', mod: 'schedules', fn: 'edit', perm: P('GET', '/api/v1/schedules') },
  { id: 'holidays', path: '/access/holidays', mod: 'access', fn: 'holidays', nav: 'access', label: 'nav.holidays', perm: P('GET', '/api/v1/holidays') },
  { id: 'holiday', path: '/access/holidays/:id', mod: 'access', fn: 'holidaySet', perm: P('GET', '/api/v1/holidays') },
  { id: 'groups', path: '/access/groups', mod: 'access', fn: 'groups', nav: 'access', label: 'nav.groups', perm: P('GET', '/api/v1/access-groups') },
  { id: 'group', path: '/access/groups/:id', mod: 'access', fn: 'group', perm: P('GET', '/api/v1/access-groups/{id}') },
  { id: 'levels', path: '/access/levels', mod: 'access', fn: 'levels', nav: 'access', label: 'nav.levels', perm: P('GET', '/api/v1/access-levels') },
  { id: 'whatif', path: '/access/check', mod: 'access', fn: 'whatIf', nav: 'access', label: 'nav.whatif', perm: P('POST', '/api/v1/decisions') },
  { id: 'terminals', path: '/terminals', mod: 'terminals', fn: 'list', nav: 'terminals', label: 'nav.terminals', perm: P('GET', '/api/v1/devices') },
  { id: 'firmware', path: '/terminals/firmware', mod: 'terminals', fn: 'firmware', nav: 'terminals', label: 'nav.firmware', perm: P('GET', '/api/v1/firmware') },
  { id: 'terminal', path: '/terminals/:id', mod: 'terminals', fn: 'detail', perm: P('GET', '/api/v1/devices/{id}') },
  { id: 'audit', path: '/audit', mod: 'audit', fn: 'page', nav: 'records', label: 'nav.audit', perm: P('GET', '/api/v1/audit') },
  { id: 'jobs', path: '/jobs', mod: 'jobs', fn: 'list', nav: 'records', label: 'nav.jobs', perm: P('GET', '/api/v1/jobs') },
  { id: 'job', path: '/jobs/:name', mod: 'jobs', fn: 'runs', perm: P('GET', '/api/v1/jobs/{name}/runs') },
  { id: 'backups', path: '/backups', mod: 'backups', fn: 'page', nav: 'records', label: 'nav.backups', perm: P('GET', '/api/v1/backups') },
  { id: 'sync', path: '/sync', mod: 'sync', fn: 'page', nav: 'records', label: 'nav.sync', perm: P('GET', '/api/v1/sync/status') },
  { id: 'account', path: '/settings', mod: 'settings', fn: 'account', nav: 'settings', label: 'nav.account' },
  { id: 'admins', path: '/settings/admins', mod: 'settings', fn: 'admins', nav: 'settings', label: 'nav.admins', perm: P('GET', '/api/v1/admins') },
  { id: 'tokens', path: '/settings/tokens', mod: 'settings', fn: 'tokens', nav: 'settings', label: 'nav.tokens', perm: P('GET', '/api/v1/tokens') },
  { id: 'allowlist', path: '/settings/allowlist', mod: 'settings', fn: 'allowlist', nav: 'settings', label: 'nav.allowlist', perm: P('GET', '/api/v1/allowlist') },
  { id: 'blocks', path: '/settings/blocks', mod: 'settings', fn: 'blocks', nav: 'settings', label: 'nav.blocks', perm: P('GET', '/api/v1/blocks') },
  { id: 'tenants', path: '/settings/tenants', mod: 'settings', fn: 'tenants', nav: 'settings', label: 'nav.tenants', perm: P('GET', '/api/v1/tenants') },
  { id: 'policy', path: '/settings/policy', mod: 'settings', fn: 'policy', nav: 'settings', label: 'nav.policy', perm: P('GET', '/api/v1/settings') },
  { id: 'notifications', path: '/settings/notifications', mod: 'settings', fn: 'notifications', nav: 'settings', label: 'nav.notifications', perm: P('POST', '/api/v1/alerts/test') },
  { id: 'certificates', path: '/settings/certificates', mod: 'settings', fn: 'certificates', nav: 'settings', label: 'nav.certificates', perm: P('PUT', '/api/v1/certificates/web') },
];
const SECTIONS = ['overview', 'people', 'access', 'terminals', 'records', 'settings'];

const modules = {
  dashboard: () => import('./pages/dashboard.js'),
  events: () => import('./pages/events.js'),
  alerts: () => import('./pages/alerts.js'),
  backups: () => import('./pages/backups.js'),
  people: () => import('./pages/people.js'),
  person: () => import('./pages/person.js'),
  access: () => import('./pages/access.js'),
  schedules: () => import('./pages/schedules.js'),
  terminals: () => import('./pages/terminals.js'),
  audit: () => import('./pages/audit.js'),
  jobs: () => import('./pages/jobs.js'),
  settings: () => import('./pages/settings.js'),
  sync: () => import('./pages/sync.js'),
};

function match(hash) {
  const path = (hash.replace(/^#/, '') || '/').split('?')[0];
  for (const r of ROUTES) {
    const names = [];
    const re = new RegExp(`^${r.path.replace(/:(\w+)/g, (m, n) => { names.push(n); return '([^/]+)'; })}$`);
    const m = re.exec(path);
    if (m) return { route: r, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  return null;
}

export function allowed(route) {
  return !route.perm || can(route.perm[0], route.perm[1]);
}

/* --- the router ------------------------------------------------------------------------------------ */
const view = { leave: [], seq: 0, current: null };
const main = () => document.getElementById('main');

export function go(href) {
  if (location.hash === href) render();
  else location.hash = href;
}

function runLeave() {
  for (const fn of view.leave.splice(0)) {
    try { fn(); } catch (e) { console.error(e); }
  }
}

/** Render the page the hash names. Ends with main[aria-busy=false] and a performance measure. */
export async function render() {
  if (!store.me) return;
  const seq = ++view.seq;
  performance.mark('gh:route-start');
  runLeave();
  const el = main();
  el.setAttribute('aria-busy', 'true');
  const found = match(location.hash);
  view.current = found ? found.route.id : null;
  el.dataset.route = view.current || 'none';
  markNav(found && found.route);
  // Each render draws into its own box: a page still awaiting its data when
  // the admin moves on (or the language changes) can then only fill a box
  // that has left the document, never the page shown now.
  const box = h('div', { class: 'view' });
  replace(el, box);
  const ctx = {
    main: box, params: found ? found.params : {},
    onLeave: (fn) => view.leave.push(fn),
    live: () => seq === view.seq, // false once the admin has gone to another page
    rerender: () => render(),
  };
  try {
    if (!found) {
      replace(box, h('h1', { tabindex: '-1' }, t('error.no_page')), h('p', null, h('a', { href: '#/' }, t('nav.dashboard'))));
    } else if (!allowed(found.route)) {
      replace(box, h('h1', { tabindex: '-1' }, t(found.route.label || 'error.forbidden_title')), notice(t('error.forbidden'), 'bad'));
    } else {
      const mod = await modules[found.route.mod]();
      if (seq !== view.seq) return;
      await mod[found.route.fn](ctx);
    }
  } catch (e) {
    if (seq !== view.seq) return;
    console.error(e);
    box.append(failed(e));
  }
  if (seq !== view.seq) return;
  el.setAttribute('aria-busy', 'false');
  const h1 = el.querySelector('h1');
  document.title = h1 ? `${h1.textContent} – ${t('app.title')}` : t('app.title');
  performance.measure(`gh:route ${view.current}`, 'gh:route-start');
  if (view.focus && h1) h1.focus();
  view.focus = true;
}

/* --- navigation and header ----------------------------------------------------------------------- */
function renderNav() {
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav.label'));
  replace(nav, SECTIONS.map((s) => {
    const items = ROUTES.filter((r) => r.nav === s && allowed(r));
    if (!items.length) return null;
    return h('section', null, h('h2', null, t(`nav.section.${s}`)),
      h('ul', null, items.map((r) => h('li', null, h('a', { href: `#${r.path}`, dataset: { route: r.id } }, t(r.label))))));
  }));
  nav.hidden = false;
  document.getElementById('layout').classList.remove('bare');
  markNav(match(location.hash)?.route);
}

function markNav(route) {
  // Detail pages light up their list's entry (#/people/12 -> People).
  const base = route ? (route.nav ? route : ROUTES.find((r) => r.nav && route.path.startsWith(r.path) && r.path !== '/')) : null;
  for (const a of document.querySelectorAll('#nav a')) {
    if (base && a.dataset.route === base.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function renderContext() {
  const ctx = document.getElementById('context');
  clear(ctx);
  if (!store.me) return;
  if (store.me.role === 'system-admin') {
    const sel = h('select', { id: 'tenant-select' },
      h('option', { value: '' }, t('header.appliance')),
      store.tenants.map((tn) => h('option', { value: tn.slug }, `${tn.name} (${tn.slug})`)));
    sel.value = api.tenant() || '';
    sel.addEventListener('change', async () => {
      api.setTenant(sel.value || null);
      forgetAll();
      await loadSites();
      renderContext();
      announce(t('header.tenant_changed', { name: sel.options[sel.selectedIndex].text }));
      render();
    });
    ctx.append(h('label', null, h('span', null, t('header.tenant')), sel));
  }
  const zones = [...new Set(store.sites.map((s) => s.timezone))];
  if (zones.length > 1) {
    const sel = h('select', { id: 'zone-select' }, zones.map((z) => h('option', { value: z }, z)));
    sel.value = zone();
    sel.addEventListener('change', () => { setZone(sel.value); render(); });
    ctx.append(h('label', null, h('span', null, t('header.zone')), sel));
  } else {
    ctx.append(h('span', { id: 'zone-note', title: zones.length ? t('header.zone_site') : t('header.zone_browser') },
      t('header.zone_is', { zone: zone() })));
  }
  // A site appliance: what the central owns is changed there (writes here get 409 owned_by_central).
  if (store.sync && store.sync.role === 'site') {
    const url = (store.sync.central && store.sync.central.url) || '';
    ctx.append(h('a', { href: '#/sync', id: 'site-note', class: 'site-note', title: t('header.site_note_title', { url }) },
      t('header.site_note')));
  }
}

function renderWho() {
  const who = document.getElementById('who');
  clear(who);
  if (!store.me) return;
  who.append(
    h('span', null, `${store.me.username} · ${t(`role.${store.me.role}`)}`),
    button(t('header.logout'), logout, { attrs: { id: 'logout' } }));
}

async function loadSites() {
  try {
    const page = await api.api('GET', '/api/v1/sites', { query: { limit: 500 } });
    store.sites = page.items;
  } catch {
    store.sites = [];
  }
  const zones = store.sites.map((s) => s.timezone);
  setZone(zones.includes(zone()) ? zone() : zones[0] || Intl.DateTimeFormat().resolvedOptions().timeZone);
}

/** Whether this appliance is a site of a central (for the header's note); null when the role may not ask. */
async function loadSync() {
  if (!can('GET', '/api/v1/sync/status')) {
    store.sync = null;
    return;
  }
  try {
    store.sync = await api.api('GET', '/api/v1/sync/status');
  } catch {
    store.sync = null;
  }
}

/** Pairing changes what this appliance is: the sync page calls this with the new status. */
export async function syncChanged(status) {
  if (status) store.sync = status;
  else await loadSync();
  await loadSites();
  renderContext();
}

/** What the session allows may have changed (auth.require_totp): enter again as it says. */
export async function sessionChanged() {
  await enter(await api.refreshSession());
}

/** Sites change the time zone choice: pages that edit sites call this. */
export async function sitesChanged() {
  await loadSites();
  renderContext();
}

/* --- language ------------------------------------------------------------------------------------------- */
export async function chooseLanguage(l) {
  await setLanguage(l);
  try { localStorage.setItem(LANG_KEY, l); } catch { /* storage off: fine */ }
  document.getElementById('lang').value = l;
  if (!store.me) return;
  // Kept with the account, whatever the role (PATCH /api/v1/session).
  if (can('PATCH', '/api/v1/session') && store.me.language !== l) {
    try {
      const s = await api.api('PATCH', '/api/v1/session', { body: { language: l }, noTenant: true });
      store.me = s.admin;
      announce(t('header.language_saved'));
    } catch (e) {
      alertMessage(errorText(e));
    }
  } else if (!can('PATCH', '/api/v1/session')) {
    announce(t('header.language_browser_only'));
  }
}

onLanguageChange(() => {
  if (!store.me) return;
  renderNav();
  renderContext();
  renderWho();
  view.focus = false;
  render();
});

/* --- logging in ------------------------------------------------------------------------------------------- */

/**
 * The login form: password, then the TOTP code when the account has one,
 * then a new password when it must change. `fixedUser` keeps the user
 * name (renewing an ended session). Resolves with the session.
 */
function loginForm({ fixedUser, onSession, mustChange }) {
  let password = null; // in memory only while the steps last
  let username = fixedUser || '';
  const box = h('div');

  function errorLine(e) {
    if (e.code === 'login_failed') return `${t('login.failed')} (${e.message})`;
    if (e.code === 'totp_required') return t('login.totp_needed');
    return errorText(e);
  }

  function stepPassword() {
    const form = h('form', { novalidate: true, 'aria-labelledby': 'login-title' },
      field({ name: 'username', label: t('login.username'), required: true, value: username, autocomplete: 'username', attrs: { readonly: fixedUser ? true : null } }),
      field({ name: 'password', label: t('login.password'), type: 'password', required: true, autocomplete: 'current-password' }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'primary' }, t('login.submit')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const v = { username: form.elements.username.value.trim(), password: form.elements.password.value };
      if (!v.username || !v.password) {
        showErrors(form, { fields: [!v.username && { field: 'username', reason: 'is required' }, !v.password && { field: 'password', reason: 'is required' }].filter(Boolean) });
        return;
      }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const s = await api.login(v);
        username = v.username;
        password = v.password;
        await afterLogin(s);
      } catch (err) {
        if (err.code === 'totp_required') {
          username = v.username;
          password = v.password;
          stepCode(false);
          return;
        }
        form.querySelector('.form-error').textContent = errorLine(err);
        form.elements.password.value = '';
        form.elements.password.focus();
      } finally {
        btn.disabled = false;
      }
    });
    replace(box, form);
    (fixedUser ? form.elements.password : form.elements.username).focus();
  }

  function stepCode(recovery) {
    const name = recovery ? 'recovery_code' : 'totp_code';
    const form = h('form', { novalidate: true },
      h('p', null, recovery ? t('login.recovery_intro') : t('login.totp_intro')),
      field({ name, label: recovery ? t('login.recovery_code') : t('login.totp_code'), required: true, autocomplete: 'one-time-code',
        attrs: recovery ? {} : { inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: '6' } }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, t('login.verify')),
        button(recovery ? t('login.use_totp') : t('login.use_recovery'), () => stepCode(!recovery), { kind: 'link' }),
        button(t('login.start_over'), () => { password = null; stepPassword(); }, { kind: 'link' })));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const code = form.elements[name].value.trim();
      if (!code) {
        showErrors(form, { fields: [{ field: name, reason: 'is required' }] });
        return;
      }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const s = await api.login({ username, password, [name]: code });
        await afterLogin(s);
      } catch (err) {
        form.querySelector('.form-error').textContent = errorLine(err);
        form.elements[name].value = '';
        form.elements[name].focus();
        if (err.code === 'login_failed') { password = null; setTimeout(stepPassword, 2500); }
      } finally {
        btn.disabled = false;
      }
    });
    replace(box, form);
    form.elements[name].focus();
  }

  function stepNewPassword(session) {
    const form = h('form', { novalidate: true },
      notice(t('login.must_change')),
      password == null ? field({ name: 'current_password', label: t('account.current_password'), type: 'password', required: true, autocomplete: 'current-password' }) : null,
      field({ name: 'new_password', label: t('account.new_password'), type: 'password', required: true, autocomplete: 'new-password', hint: t('account.password_rule_hint') }),
      field({ name: 'confirm', label: t('account.confirm_password'), type: 'password', required: true, autocomplete: 'new-password' }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'primary' }, t('account.change_password')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const np = form.elements.new_password.value;
      if (np !== form.elements.confirm.value) {
        showErrors(form, { fields: [{ field: 'confirm', reason: 'does not match' }] });
        return;
      }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        api.setCsrf(session.csrf_token);
        const current = password == null ? form.elements.current_password.value : password;
        await api.api('POST', '/api/v1/session/password', { body: { current_password: current, new_password: np }, login: true });
        password = null;
        const s = await api.refreshSession();
        announce(t('account.password_changed'));
        onSession(s);
      } catch (err) {
        showErrors(form, err);
      } finally {
        btn.disabled = false;
      }
    });
    replace(box, form);
    (form.elements.current_password || form.elements.new_password).focus();
  }

  async function afterLogin(s) {
    api.setCsrf(s.csrf_token);
    if (s.must_change_password) {
      stepNewPassword(s);
      return;
    }
    password = null;
    onSession(s);
  }

  if (mustChange) stepNewPassword(mustChange);
  else stepPassword();
  return box;
}

function showLogin() {
  store.me = null;
  runLeave();
  document.getElementById('nav').hidden = true;
  document.getElementById('layout').classList.add('bare');
  renderContext();
  renderWho();
  const el = main();
  el.dataset.route = 'login';
  replace(el, h('div', { class: 'login-box card' },
    h('h1', { id: 'login-title', tabindex: '-1' }, t('login.title')),
    loginForm({ onSession: (s) => enter(s) })));
  el.setAttribute('aria-busy', 'false');
  document.title = `${t('login.title')} – ${t('app.title')}`;
}

/**
 * The session ended while the admin was working: log in again over the
 * page, which stays as it was (forms keep what was typed). The requests
 * waiting on this go out again afterwards.
 */
function reauthenticate(err) {
  return new Promise((resolve) => {
    const user = store.me ? store.me.username : '';
    let done = false;
    const form = loginForm({
      fixedUser: user,
      onSession: (s) => {
        done = true;
        store.me = s.admin;
        close();
        announce(t('login.welcome_back'));
        resolve();
      },
    });
    const { dialog, close } = openDialog({
      title: t('login.expired_title'),
      cls: 'login',
      body: [notice(err.code === 'session_expired' ? t('login.expired') : t('login.ended'), 'warn'), form],
      closeLabel: false,
      actions: [{ label: t('login.other_user'), kind: 'link', onClick: () => { location.hash = '#/'; location.reload(); } }],
    });
    dialog.addEventListener('cancel', (e) => { if (!done) e.preventDefault(); });
    dialog.dataset.reauth = 'yes';
    form.querySelector('input[name=password]')?.focus();
  });
}

async function logout() {
  try {
    await api.api('DELETE', '/api/v1/session', { noTenant: true });
  } catch { /* the session may be gone already */ }
  api.setCsrf(null);
  api.setTenant(null);
  forgetAll();
  store.me = null;
  history.replaceState(null, '', '#/');
  showLogin();
  announce(t('header.logged_out'));
}

let openapi = null;
function loadOpenapi() {
  if (!openapi) {
    openapi = fetch('/assets/openapi.json').then((r) => (r.ok ? r.json() : null)).catch(() => null);
  }
  return openapi;
}

let started = false;
async function enter(session) {
  api.setCsrf(session.csrf_token);
  store.me = session.admin;
  if (session.must_change_password) {
    // Reached with a live session from an earlier tab: change before anything else.
    const el = main();
    el.dataset.route = 'login';
    replace(el, h('div', { class: 'login-box card' }, h('h1', { tabindex: '-1' }, t('login.title')),
      loginForm({ mustChange: session, onSession: (s) => enter(s) })));
    el.setAttribute('aria-busy', 'false');
    return;
  }
  if (session.must_enrol_totp) {
    await enrolFirst();
    return;
  }
  performance.mark('gh:boot-session');
  const wanted = store.me.language || localStoredLanguage() || browserLanguage();
  // Tenants (system admins) and the sites' time zones, beside the API description.
  const lists = Promise.all([
    store.me.role === 'system-admin'
      ? api.api('GET', '/api/v1/tenants', { noTenant: true }).then((p) => { store.tenants = p.items; }, () => { store.tenants = []; })
      : null,
    loadSites(),
  ]);
  const [doc] = await Promise.all([
    loadOpenapi(),
    wanted !== lang() ? setLanguage(wanted) : null,
  ]);
  document.getElementById('lang').value = lang();
  setPermissions(doc, store.me.role);
  performance.mark('gh:boot-permissions');
  await Promise.all([lists, loadSync()]);
  performance.mark('gh:boot-lists');
  renderNav();
  renderContext();
  renderWho();
  if (!started) {
    started = true;
    window.addEventListener('hashchange', () => render());
  }
  view.focus = false;
  await render();
}

/**
 * auth.require_totp, and this admin has no TOTP yet: nothing else answers
 * until it is on, so the console shows only the enrolment (the account
 * page's card), then enters as usual.
 */
async function enrolFirst() {
  const { totpCard } = await import('./pages/settings.js');
  const el = main();
  clear(document.getElementById('nav')); // no page answers yet: none is offered
  el.dataset.route = 'enrol-totp';
  replace(el, h('div', { class: 'login-box card', id: 'enrol-totp' }, h('h1', { tabindex: '-1' }, t('enrol.title')),
    notice(t('enrol.required'), 'warn'), totpCard(store.me, sessionChanged),
    h('p', null, button(t('header.logout'), () => logout(), { attrs: { id: 'enrol-logout' } }))));
  el.setAttribute('aria-busy', 'false');
  el.querySelector('h1').focus();
}

function localStoredLanguage() {
  try {
    const l = localStorage.getItem(LANG_KEY);
    return LANGUAGES.includes(l) ? l : null;
  } catch {
    return null;
  }
}

/** Boot: language, then the session if the cookie still holds one, else the login page. */
export async function start() {
  api.configure({
    onAuthLost: (err) => (store.me ? reauthenticate(err) : Promise.reject(err)),
    onPasswordChange: () => alertMessage(t('login.must_change')),
    onTotpRequired: () => sessionChanged(),
  });
  // Everything the first page needs is asked for at once: the session, the
  // translations, the API description and the page's own module.
  const session = api.refreshSession().then((s) => ({ s }), (e) => ({ e }));
  loadOpenapi();
  const first = match(location.hash);
  if (first && modules[first.route.mod]) modules[first.route.mod]().catch(() => {});
  await setLanguage(localStoredLanguage() || browserLanguage());
  performance.mark('gh:boot-language');
  const sel = document.getElementById('lang');
  sel.value = lang();
  sel.addEventListener('change', () => chooseLanguage(sel.value));
  document.getElementById('skip').addEventListener('click', (e) => {
    e.preventDefault();
    const h1 = main().querySelector('h1');
    (h1 || main()).focus();
  });
  try {
    const { s, e } = await session;
    if (e) throw e;
    await enter(s);
  } catch (e) {
    if (e instanceof api.ApiError && (e.status === 401 || e.status === 403)) {
      if (e.code === 'blocked' || e.code === 'address_not_allowed') alertMessage(errorText(e));
      showLogin();
    } else {
      replace(main(), failed(e));
      main().setAttribute('aria-busy', 'false');
    }
  }
}

