// Settings: your account (language, password, TOTP with a QR code drawn
// here from the otpauth URI, recovery codes shown once), admins and roles,
// API tokens (shown once), allow-lists, blocked addresses, tenants (legal
// hold) and the login policy.

import { add, h, replace, saveBlob } from '../dom.js';
import { t, tOr, lang, LANGUAGES } from '../i18n.js';
import { api, refreshSession, tenant as currentTenant } from '../api.js';
import { dateTime } from '../fmt.js';
import {
  can, role, pageHead, tabs, field, values, orNull, table, button, busy, announce, notice, openDialog, confirmDialog,
  showOnce, showErrors, clearErrors, badge, alertMessage, yesNo, errorText,
} from '../ui.js';
import { store } from '../store.js';
import { chooseLanguage, sessionChanged } from '../shell.js';
import { qrCanvas } from '../qr.js';
import { crudPage } from './crud.js';

function settingsTabs(current) {
  return tabs([
    { id: 'account', href: '#/settings', label: t('nav.account') },
    { id: 'admins', href: '#/settings/admins', label: t('nav.admins'), show: can('GET', '/api/v1/admins') },
    { id: 'tokens', href: '#/settings/tokens', label: t('nav.tokens'), show: can('GET', '/api/v1/tokens') },
    { id: 'allowlist', href: '#/settings/allowlist', label: t('nav.allowlist'), show: can('GET', '/api/v1/allowlist') },
    { id: 'blocks', href: '#/settings/blocks', label: t('nav.blocks'), show: can('GET', '/api/v1/blocks') },
    { id: 'tenants', href: '#/settings/tenants', label: t('nav.tenants'), show: can('GET', '/api/v1/tenants') },
    { id: 'policy', href: '#/settings/policy', label: t('nav.policy'), show: can('GET', '/api/v1/settings') },
    { id: 'notifications', href: '#/settings/notifications', label: t('nav.notifications'), show: can('POST', '/api/v1/alerts/test') },
    { id: 'certificates', href: '#/settings/certificates', label: t('nav.certificates'), show: can('PUT', '/api/v1/certificates/web') },
  ], current);
}

function scopeNote() {
  if (role() !== 'system-admin') return null;
  const slug = currentTenant();
  return notice(slug ? t('settings.scope_tenant', { slug }) : t('settings.scope_appliance'));
}

/* --- your account ------------------------------------------------------------------------------ */
function languageCard() {
  const form = h('form', { id: 'language-form', novalidate: true },
    field({ name: 'language', label: t('account.language'), type: 'select', value: lang(),
      options: LANGUAGES.map((l) => ({ value: l, label: t(`lang.${l}`) })),
      hint: can('PATCH', '/api/v1/session') ? t('account.language_saved_hint') : t('account.language_browser_hint') }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('common.save'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    chooseLanguage(form.elements.language.value);
  });
  return h('section', { class: 'card', 'aria-labelledby': 'lang-title' }, h('h2', { id: 'lang-title' }, t('account.language')), form);
}

function passwordCard() {
  const form = h('form', { id: 'password-form', novalidate: true },
    h('div', { class: 'fields' },
      field({ name: 'current_password', label: t('account.current_password'), type: 'password', required: true, autocomplete: 'current-password' }),
      field({ name: 'new_password', label: t('account.new_password'), type: 'password', required: true, autocomplete: 'new-password', hint: t('account.password_rule_hint') }),
      field({ name: 'confirm', label: t('account.confirm_password'), type: 'password', required: true, autocomplete: 'new-password' })),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('account.change_password'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    if (v.new_password !== v.confirm) {
      showErrors(form, { fields: [{ field: 'confirm', reason: 'does not match' }] });
      return;
    }
    try {
      await api('POST', '/api/v1/session/password', { body: { current_password: v.current_password, new_password: v.new_password } });
      form.reset();
      announce(t('account.password_changed'));
    } catch (err) {
      showErrors(form, err);
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'pw-title' }, h('h2', { id: 'pw-title' }, t('account.password')),
    h('p', { class: 'muted' }, t('account.password_intro')), form);
}

function recoveryCodes(codes) {
  let list = codes;
  const text = () => `${t('account.recovery_file')}\n\n${list.join('\n')}\n`;
  openDialog({
    title: t('account.recovery_title'),
    body: [h('p', null, t('account.recovery_intro')), h('ol', { class: 'codes', id: 'recovery-codes' }, list.map((c) => h('li', null, c))),
      notice(t('common.shown_once'), 'warn')],
    actions: [{ label: t('account.recovery_download'), onClick: () => saveBlob(new Blob([text()], { type: 'text/plain' }), 'gatehouse-recovery-codes.txt') }],
    closeLabel: t('account.recovery_done'),
    onClose: () => { list = []; },
  });
}

export function totpCard(me, rerender) {
  const box = h('section', { class: 'card', 'aria-labelledby': 'totp-title', id: 'totp-card' }, h('h2', { id: 'totp-title' }, t('account.totp')));
  if (me.totp_enabled) {
    const form = h('form', { id: 'totp-disable-form', novalidate: true },
      field({ name: 'password', label: t('account.your_password'), type: 'password', required: true, autocomplete: 'current-password' }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'danger' }, t('account.totp_disable'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        await api('DELETE', '/api/v1/session/totp', { body: { password: form.elements.password.value } });
        announce(t('account.totp_disabled'));
        rerender();
      } catch (err) {
        showErrors(form, err);
      }
    });
    box.append(notice(t('account.totp_on_text'), 'ok'), h('h3', null, t('account.totp_disable')), form);
    return box;
  }
  const start = button(t('account.totp_start'), (e) => busy(e.currentTarget, async () => {
    const enrol = await api('POST', '/api/v1/session/totp');
    const canvas = qrCanvas(enrol.otpauth_uri, 5);
    canvas.id = 'totp-qr';
    canvas.className = 'qr';
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', t('account.totp_qr'));
    const form = h('form', { id: 'totp-confirm-form', novalidate: true },
      field({ name: 'code', label: t('account.totp_code'), required: true, autocomplete: 'one-time-code', attrs: { inputmode: 'numeric', maxlength: 6 } }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('account.totp_confirm'))));
    const secret = enrol.secret.replace(/(.{4})/g, '$1 ').trim();
    const { close } = openDialog({
      title: t('account.totp_setup'),
      body: [h('p', null, t('account.totp_scan')), canvas,
        h('p', null, t('account.totp_manual')), h('p', { class: 'secret', id: 'totp-secret' }, secret), form],
      closeLabel: t('common.cancel'),
      onClose: () => { enrol.otpauth_uri = ''; enrol.secret = ''; },
    });
    form.elements.code.focus();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      try {
        const res = await api('POST', '/api/v1/session/totp/confirm', { body: { code: form.elements.code.value.trim() } });
        close();
        store.me.totp_enabled = true;
        recoveryCodes(res.recovery_codes);
        announce(t('account.totp_enabled'));
        rerender();
      } catch (err) {
        showErrors(form, err);
      }
    });
  }), { kind: 'primary', attrs: { id: 'totp-start' } });
  box.append(h('p', null, t('account.totp_off_text')), h('div', { class: 'row' }, start));
  return box;
}

export async function account(ctx) {
  const s = await refreshSession();
  store.me = s.admin;
  const me = s.admin;
  const draw = () => {
    replace(ctx.main, settingsTabs('account'), pageHead(t('nav.account')),
      h('section', { class: 'card', 'aria-labelledby': 'me-title' }, h('h2', { id: 'me-title' }, t('account.you')),
        h('dl', { class: 'facts' },
          h('dt', null, t('admins.username')), h('dd', null, me.username),
          h('dt', null, t('admins.role')), h('dd', null, t(`role.${me.role}`)),
          h('dt', null, t('account.session_ends')), h('dd', null, dateTime(s.expires_at)))),
      h('div', { class: 'grid2' }, totpCard(store.me, () => account(ctx)), h('div', null, passwordCard(), languageCard())));
  };
  draw();
}

/* --- admins ------------------------------------------------------------------------------------- */
const ROLES = ['system-admin', 'tenant-admin', 'operator', 'auditor'];

export async function admins(ctx) {
  const box = h('div', { id: 'admins-list' });
  const isSys = role() === 'system-admin';
  const tenants = new Map(store.tenants.map((tn) => [tn.id, tn]));
  async function load() {
    const page = await api('GET', '/api/v1/admins');
    replace(box, table({
      caption: t('nav.admins'),
      columns: [
        { label: t('admins.username'), cell: (a) => a.username },
        { label: t('admins.role'), cell: (a) => roleCell(a) },
        { label: t('admins.tenant'), cell: (a) => (a.tenant_id ? (tenants.get(a.tenant_id) || {}).slug || `#${a.tenant_id}` : '—') },
        { label: t('admins.status'), cell: (a) => badge(t(`admins.status.${a.status}`), a.status === 'active' ? 'ok' : 'bad') },
        { label: t('admins.locked'), cell: (a) => (a.locked ? badge(t('admins.locked_yes'), 'bad') : t('common.no')) },
        { label: t('admins.totp'), cell: (a) => yesNo(a.totp_enabled) },
        { label: t('admins.must_change'), cell: (a) => yesNo(a.must_change_password) },
        { label: t('admins.language'), cell: (a) => (a.language ? t(`lang.${a.language}`) : t('admins.browser')) },
        { label: t('common.actions'), actions: true, cell: actionsCell },
      ],
      rows: page.items,
    }));
  }
  const self = (a) => a.id === store.me.id;
  function roleCell(a) {
    if (self(a) || !can('PATCH', '/api/v1/admins/{id}')) return t(`role.${a.role}`);
    const choices = a.role === 'system-admin' ? ['system-admin'] : ROLES.slice(1);
    const sel = h('select', { 'aria-label': t('admins.role_of', { name: a.username }) }, choices.map((r) => h('option', { value: r }, t(`role.${r}`))));
    sel.value = a.role;
    sel.addEventListener('change', () => busy(sel, async () => {
      try {
        await api('PATCH', `/api/v1/admins/${a.id}`, { body: { role: sel.value } });
        announce(t('admins.role_changed', { name: a.username, role: t(`role.${sel.value}`) }));
      } finally {
        await load();
      }
    }));
    return sel;
  }
  function actionsCell(a) {
    const out = [];
    if (!self(a)) {
      out.push(button(a.status === 'active' ? t('admins.disable') : t('admins.enable'), async (e) => {
        if (a.status === 'active' && !await confirmDialog({ title: t('admins.disable_q', { name: a.username }), body: h('p', null, t('admins.disable_text')), confirmLabel: t('admins.disable'), danger: true })) return;
        await busy(e.currentTarget, async () => {
          await api('PATCH', `/api/v1/admins/${a.id}`, { body: { status: a.status === 'active' ? 'disabled' : 'active' } });
          announce(t('common.saved'));
          await load();
        });
      }, { kind: 'small', attrs: { 'aria-label': `${a.status === 'active' ? t('admins.disable') : t('admins.enable')} ${a.username}` } }));
    }
    if (a.locked) {
      out.push(button(t('admins.unlock'), (e) => busy(e.currentTarget, async () => {
        await api('POST', `/api/v1/admins/${a.id}/unlock`);
        announce(t('admins.unlocked', { name: a.username }));
        await load();
      }), { kind: 'small', attrs: { 'aria-label': `${t('admins.unlock')} ${a.username}` } }));
    }
    if (!self(a)) {
      out.push(button(t('admins.reset'), () => resetDialog(a), { kind: 'small', attrs: { 'aria-label': `${t('admins.reset')} ${a.username}` } }));
    }
    return h('div', { class: 'row' }, out);
  }
  function resetDialog(a) {
    const form = h('form', { novalidate: true, id: 'reset-form' },
      h('p', null, t('admins.reset_intro', { name: a.username })),
      field({ name: 'password', label: t('admins.temp_password'), type: 'password', required: true, autocomplete: 'new-password', hint: t('account.password_rule_hint') }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('admins.reset'))));
    const { close } = openDialog({ title: t('admins.reset_title', { name: a.username }), body: form, closeLabel: t('common.cancel') });
    form.elements.password.focus();
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        await api('POST', `/api/v1/admins/${a.id}/reset-password`, { body: { password: form.elements.password.value } });
        close();
        announce(t('admins.reset_done', { name: a.username }));
        await load();
      } catch (err) {
        showErrors(form, err);
      }
    });
  }
  function createDialog() {
    const roles = isSys ? ROLES : ROLES.slice(1);
    const form = h('form', { novalidate: true, id: 'admin-form' },
      h('div', { class: 'fields' },
        field({ name: 'username', label: t('admins.username'), required: true, hint: t('admins.username_hint') }),
        field({ name: 'role', label: t('admins.role'), type: 'select', value: isSys ? 'tenant-admin' : 'operator', options: roles.map((r) => ({ value: r, label: t(`role.${r}`) })) }),
        isSys ? field({ name: 'tenant_id', label: t('admins.tenant'), type: 'select',
          value: String((store.tenants.find((tn) => tn.slug === currentTenant()) || store.tenants[0] || {}).id || ''),
          options: store.tenants.map((tn) => ({ value: String(tn.id), label: `${tn.name} (${tn.slug})` })), hint: t('admins.tenant_hint') }) : null,
        field({ name: 'password', label: t('admins.first_password'), type: 'password', required: true, autocomplete: 'new-password', hint: t('admins.first_password_hint') })),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('common.create'))));
    const { close } = openDialog({ title: t('admins.new'), body: form, closeLabel: t('common.cancel') });
    form.elements.username.focus();
    const tenantField = form.elements.tenant_id;
    const sync = () => { if (tenantField) tenantField.disabled = form.elements.role.value === 'system-admin'; };
    form.elements.role.addEventListener('change', sync);
    sync();
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const v = values(form);
      const body = { username: v.username.trim(), role: v.role, password: form.elements.password.value };
      if (isSys && v.role !== 'system-admin' && v.tenant_id) body.tenant_id = Number(v.tenant_id);
      try {
        await api('POST', '/api/v1/admins', { body });
        close();
        announce(t('admins.created', { name: body.username }));
        await load();
      } catch (err) {
        showErrors(form, err);
      }
    });
  }
  add(ctx.main, settingsTabs('admins'),
    pageHead(t('nav.admins'), can('POST', '/api/v1/admins') ? button(t('admins.new'), createDialog, { kind: 'primary', attrs: { id: 'admin-new' } }) : null),
    scopeNote(), box);
  await load();
}

/* --- API tokens -------------------------------------------------------------------------------------- */
export async function tokens(ctx) {
  add(ctx.main, settingsTabs('tokens'), pageHead(t('nav.tokens')));
  if (role() === 'system-admin' && !currentTenant()) {
    add(ctx.main, notice(t('tokens.choose_tenant'), 'warn'));
    return;
  }
  const box = h('div', { id: 'tokens-list' });
  const state = (tk) => {
    if (tk.revoked_at) return badge(t('tokens.revoked'), 'bad');
    if (new Date(tk.expires_at) < new Date()) return badge(t('tokens.expired'), 'warn');
    return badge(t('tokens.live'), 'ok');
  };
  async function load() {
    const page = await api('GET', '/api/v1/tokens');
    replace(box, table({
      caption: t('nav.tokens'),
      columns: [
        { label: t('tokens.name'), cell: (tk) => tk.name },
        { label: t('tokens.scope'), cell: (tk) => t(`tokens.scope.${tk.scope}`) },
        { label: t('tokens.prefix'), cell: (tk) => h('span', { class: 'mono' }, `${tk.prefix}…`) },
        { label: t('tokens.state'), cell: state },
        { label: t('tokens.created'), cell: (tk) => dateTime(tk.created_at) },
        { label: t('tokens.expires'), cell: (tk) => dateTime(tk.expires_at) },
        { label: t('tokens.last_used'), cell: (tk) => dateTime(tk.last_used_at) },
        {
          label: t('common.actions'), actions: true,
          cell: (tk) => (tk.revoked_at || !can('DELETE', '/api/v1/tokens/{id}') ? '' : button(t('tokens.revoke'), async (e) => {
            if (!await confirmDialog({ title: t('tokens.revoke_q', { name: tk.name }), body: h('p', null, t('tokens.revoke_text')), confirmLabel: t('tokens.revoke'), danger: true })) return;
            await busy(e.currentTarget, async () => {
              await api('DELETE', `/api/v1/tokens/${tk.id}`);
              announce(t('tokens.revoked_done', { name: tk.name }));
              await load();
            });
          }, { kind: 'small', attrs: { 'aria-label': `${t('tokens.revoke')} ${tk.name}` } })),
        },
      ],
      rows: page.items,
      empty: t('tokens.none'),
    }));
  }
  let form = null;
  if (can('POST', '/api/v1/tokens')) {
    form = h('form', { novalidate: true, id: 'token-form', class: 'card', 'aria-label': t('tokens.new') },
      h('h2', null, t('tokens.new')),
      h('div', { class: 'fields' },
        field({ name: 'name', label: t('tokens.name'), required: true }),
        field({ name: 'scope', label: t('tokens.scope'), type: 'select', value: 'read',
          options: ['read', 'operate', 'manage'].map((s) => ({ value: s, label: t(`tokens.scope.${s}`) })), hint: t('tokens.scope_hint') }),
        field({ name: 'expires_in_days', label: t('tokens.days'), type: 'number', value: 90, attrs: { min: 1, max: 365 } })),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('common.create'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const v = values(form);
      try {
        const tk = await api('POST', '/api/v1/tokens', { body: { name: v.name.trim(), scope: v.scope, expires_in_days: Number(v.expires_in_days) } });
        form.reset();
        showOnce({ title: t('tokens.created_title', { name: tk.name }), intro: t('tokens.created_intro', { when: dateTime(tk.expires_at) }), secret: tk.token });
        await load();
      } catch (err) {
        showErrors(form, err);
      }
    });
  }
  add(ctx.main, scopeNote(), form, h('h2', null, t('tokens.list')), box);
  await load();
}

/* --- allow-list and blocks ------------------------------------------------------------------------------ */
export async function allowlist(ctx) {
  // Where the appliance sees this browser: the range to allow must cover it.
  const here = await refreshSession().then((s) => s.remote_address || null, () => null);
  const box = h('div', { id: 'allowlist-list' });
  async function load() {
    const page = await api('GET', '/api/v1/allowlist');
    replace(box, page.items.length ? table({
      caption: t('nav.allowlist'),
      columns: [
        { label: t('allow.cidr'), cell: (a) => h('span', { class: 'mono' }, a.cidr) },
        { label: t('allow.note'), cell: (a) => a.note },
        {
          label: t('common.actions'), actions: true,
          cell: (a) => (can('DELETE', '/api/v1/allowlist/{id}') ? button(t('common.remove'), async (e) => {
            if (!await confirmDialog({ title: t('allow.remove_q', { cidr: a.cidr }), body: h('p', null, t('allow.remove_text')), confirmLabel: t('common.remove'), danger: true })) return;
            await busy(e.currentTarget, async () => {
              await api('DELETE', `/api/v1/allowlist/${a.id}`);
              announce(t('allow.removed', { cidr: a.cidr }));
              await load();
            });
          }, { kind: 'small', attrs: { 'aria-label': `${t('common.remove')} ${a.cidr}` } }) : ''),
        },
      ],
      rows: page.items,
    }) : notice(t('allow.empty')));
  }
  let form = null;
  if (can('POST', '/api/v1/allowlist')) {
    form = h('form', { novalidate: true, id: 'allow-form', class: 'card', 'aria-label': t('allow.add') },
      h('h2', null, t('allow.add')),
      h('div', { class: 'fields' },
        field({ name: 'cidr', label: t('allow.cidr'), required: true, hint: t('allow.cidr_hint') }),
        here ? h('div', { class: 'field' }, h('p', { class: 'hint', id: 'allow-here' }, t('allow.you_are_at', { address: here })),
          button(t('allow.use_mine'), () => {
            form.elements.cidr.value = here.includes(':') ? `${here}/128` : `${here}/32`;
            form.elements.cidr.focus();
          }, { kind: 'small', attrs: { id: 'allow-use-mine' } })) : null,
        field({ name: 'note', label: t('allow.note') })),
      h('p', { class: 'form-error', role: 'alert', id: 'allow-error' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('allow.add'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const v = values(form);
      try {
        const body = { cidr: v.cidr.trim() };
        if (orNull(v.note)) body.note = v.note.trim();
        const added = await api('POST', '/api/v1/allowlist', { body });
        form.reset();
        announce(t('allow.added', { cidr: added.cidr }));
        await load();
      } catch (err) {
        // 409: the server refuses a list that would lock you out; its message says why.
        if (err.code === 'conflict') {
          clearErrors(form);
          form.querySelector('.form-error').textContent = err.message;
          alertMessage(err.message);
        } else {
          showErrors(form, err);
        }
      }
    });
  }
  add(ctx.main, settingsTabs('allowlist'), pageHead(t('nav.allowlist')),
    h('p', { class: 'muted' }, t('allow.intro')), scopeNote(), form, h('h2', null, t('allow.list')), box);
  await load();
}

export async function blocks(ctx) {
  const box = h('div', { id: 'blocks-list' });
  async function load() {
    const page = await api('GET', '/api/v1/blocks');
    replace(box, table({
      caption: t('nav.blocks'),
      columns: [
        { label: t('blocks.address'), cell: (b) => h('span', { class: 'mono' }, b.address) },
        { label: t('blocks.reason'), cell: (b) => b.reason },
        { label: t('blocks.until'), cell: (b) => dateTime(b.until) },
        {
          label: t('common.actions'), actions: true,
          cell: (b) => button(t('blocks.lift'), (e) => busy(e.currentTarget, async () => {
            await api('DELETE', `/api/v1/blocks/${encodeURIComponent(b.address)}`);
            announce(t('blocks.lifted', { address: b.address }));
            await load();
          }), { kind: 'small', attrs: { 'aria-label': `${t('blocks.lift')} ${b.address}` } }),
        },
      ],
      rows: page.items,
      empty: t('blocks.none'),
    }));
  }
  add(ctx.main, settingsTabs('blocks'), pageHead(t('nav.blocks')), h('p', { class: 'muted' }, t('blocks.intro')), box);
  await load();
}

/* --- tenants ------------------------------------------------------------------------------------------------- */
export function tenants(ctx) {
  add(ctx.main, settingsTabs('tenants'));
  return crudPage(ctx, {
    id: 'tenants', title: t('nav.tenants'), path: '/api/v1/tenants',
    intro: t('tenants.intro'),
    newLabel: t('tenants.new'), editLabel: (tn) => t('tenants.edit', { name: tn.name }), deleteLabel: (tn) => tn.name,
    after: async () => {
      store.tenants = (await api('GET', '/api/v1/tenants', { noTenant: true })).items;
    },
    columns: () => [
      { label: t('tenants.slug'), cell: (tn) => h('span', { class: 'mono' }, tn.slug) },
      { label: t('tenants.name'), cell: (tn) => tn.name },
      { label: t('tenants.legal_hold'), cell: (tn) => (tn.legal_hold ? badge(t('tenants.hold_on'), 'warn') : t('tenants.hold_off')) },
    ],
    rowActions: (tn, changed) => button(tn.legal_hold ? t('tenants.lift_hold') : t('tenants.set_hold'), async (e) => {
      const ok = await confirmDialog({
        title: tn.legal_hold ? t('tenants.lift_hold_q', { name: tn.name }) : t('tenants.set_hold_q', { name: tn.name }),
        body: h('p', null, tn.legal_hold ? t('tenants.lift_hold_text') : t('tenants.set_hold_text')),
        confirmLabel: tn.legal_hold ? t('tenants.lift_hold') : t('tenants.set_hold'),
        danger: tn.legal_hold,
      });
      if (!ok) return;
      await busy(e.currentTarget, async () => {
        await api('PATCH', `/api/v1/tenants/${tn.id}`, { body: { legal_hold: !tn.legal_hold }, noTenant: true });
        announce(tn.legal_hold ? t('tenants.hold_lifted', { name: tn.name }) : t('tenants.hold_set', { name: tn.name }));
        await changed();
      });
    }, { kind: 'small', attrs: { dataset: { hold: tn.slug } } }),
    fields: (tn) => [
      tn ? null : field({ name: 'slug', label: t('tenants.slug'), required: true, hint: t('tenants.slug_hint') }),
      field({ name: 'name', label: t('tenants.name'), required: true, value: tn && tn.name }),
    ],
    body: (form, tn) => (tn ? { name: form.elements.name.value.trim() } : { slug: form.elements.slug.value.trim(), name: form.elements.name.value.trim() }),
  });
}

/* --- the configuration, read from the appliance ------------------------------------------------------- */

/**
 * Settings as a table: the key (as in the configuration file), what it does,
 * its value and where it comes from, the default; for a system admin, a
 * "Change" button on the keys the appliance lets the console change
 * (PUT /api/v1/settings/{key}) and "Undo" on those changed here. The table
 * redraws itself after a change.
 */
export function settingsTable(rows, id) {
  const box = h('div', { class: 'settings-table' });
  const draw = () => replace(box, tableWithId(rows, id, async (key, doc) => {
    const i = rows.findIndex((r) => r.key === key);
    if (i >= 0) rows[i] = { ...doc, section: rows[i].section };
    draw();
    // Required now, and this admin has none: straight to enrolment.
    if (key === 'auth.require_totp' && !store.me.totp_enabled) await sessionChanged();
  }));
  draw();
  return box;
}

const SOURCE_KIND = { console: 'ok', 'command line': 'warn', file: '', default: '' };
const sourceLabel = (src) => ({
  default: t('settings.source.default'), file: t('settings.source.file'), console: t('settings.source.console'),
  'command line': t('settings.source.command_line'),
}[src] || src);
const typeHint = (type) => ({
  int: t('settings.type.int'), bool: '', duration: t('settings.type.duration'), size: t('settings.type.size'),
  schedule: t('settings.type.schedule'), enum: '', string: '',
}[type] || '');

function sourceCell(k) {
  const out = [badge(sourceLabel(k.source), SOURCE_KIND[k.source] || '')];
  if (k.source === 'console' && k.changed_by) out.push(' ', h('span', { class: 'muted' }, t('settings.changed_by', { who: k.changed_by_username || k.changed_by, when: dateTime(k.changed_at) })));
  return out;
}

function valueControl(k) {
  const common = { name: 'value', label: t('settings.new_value'), required: false };
  if (k.type === 'bool') {
    return field({ ...common, type: 'select', value: ['yes', 'true', 'on', '1'].includes(k.value) ? 'yes' : 'no', options: [{ value: 'yes', label: t('common.yes') }, { value: 'no', label: t('common.no') }] });
  }
  if (k.type === 'enum' && k.choices) {
    return field({ ...common, type: 'select', value: k.value, options: k.choices.split('|').map((c) => ({ value: c, label: c })) });
  }
  // Webhook URLs are shown masked: typing them again is the only honest way.
  const value = k.key === 'webhook.urls' ? '' : k.value;
  return field({ ...common, value, hint: typeHint(k.type), attrs: { autocomplete: 'off', spellcheck: 'false' }, wide: true });
}

function changeDialog(k, onChanged) {
  const form = h('form', { novalidate: true, id: 'setting-form' },
    h('p', null, h('span', { class: 'mono' }, k.key), ' ', tOr(`settings.key.${k.key}`, '')),
    h('p', { class: 'muted' }, t('settings.change_intro', { value: k.value === '' ? t('settings.empty') : k.value, def: k.default === '' ? t('settings.empty') : k.default })),
    h('div', { class: 'fields' }, valueControl(k)),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('settings.save'))));
  const { close } = openDialog({ title: t('settings.change_title', { key: k.key }), body: form, closeLabel: t('common.cancel') });
  form.elements.value.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      const doc = await api('PUT', `/api/v1/settings/${encodeURIComponent(k.key)}`, { body: { value: form.elements.value.value.trim() } });
      close();
      announce(t('settings.saved', { key: k.key }));
      await onChanged(k.key, doc);
    } catch (err) {
      showErrors(form, err);
    }
  });
}

async function undo(k, onChanged) {
  const yes = await confirmDialog({ title: t('settings.undo_title', { key: k.key }), body: h('p', null, t('settings.undo_body')), confirmLabel: t('settings.undo') });
  if (!yes) return;
  const doc = await api('DELETE', `/api/v1/settings/${encodeURIComponent(k.key)}`);
  announce(t('settings.undone', { key: k.key, value: doc.value === '' ? t('settings.empty') : doc.value }));
  await onChanged(k.key, doc);
}

function actionsCell(k, onChanged) {
  if (!k.editable) return k.why_not_editable ? h('span', { class: 'muted small' }, t(k.source === 'command line' ? 'settings.not_editable_set' : 'settings.not_editable_file')) : null;
  const out = [button(t('settings.change'), () => changeDialog(k, onChanged), { kind: 'small', attrs: { 'aria-label': t('settings.change_named', { key: k.key }), dataset: { change: k.key } } })];
  if (k.source === 'console') {
    out.push(button(t('settings.undo'), (e) => busy(e.currentTarget, () => undo(k, onChanged)), { kind: 'small', attrs: { 'aria-label': t('settings.undo_named', { key: k.key }), dataset: { undo: k.key } } }));
  }
  return h('div', { class: 'row' }, out);
}

function tableWithId(rows, id, onChanged) {
  const editing = onChanged && can('PUT', '/api/v1/settings/{key}');
  const columns = [
    { label: t('policy.key'), cell: (k) => h('span', { class: 'mono' }, k.key) },
    { label: t('policy.meaning'), cell: (k) => tOr(`settings.key.${k.key}`, '') },
    { label: t('settings.value'), cell: (k) => h('span', { class: 'mono', dataset: { key: k.key } }, k.value === '' ? t('settings.empty') : k.value) },
    { label: t('settings.source'), cell: (k) => sourceCell(k) },
    {
      label: t('policy.default'),
      cell: (k) => [h('span', { class: 'mono' }, k.default === '' ? t('settings.empty') : k.default),
        k.changed ? [' ', badge(t('settings.changed'), 'warn')] : null],
    },
  ];
  if (editing) columns.push({ label: t('common.actions'), cell: (k) => actionsCell(k, onChanged) });
  const el = table({ caption: t('settings.values'), columns, rows, empty: t('settings.none') });
  if (id) el.id = id;
  return el;
}

const SECTIONS = ['login', 'abuse', 'retention', 'alerts', 'network'];

export async function policy(ctx) {
  const s = await api('GET', '/api/v1/settings');
  add(ctx.main, settingsTabs('policy'), pageHead(t('nav.policy')),
    h('p', { class: 'muted' }, t('settings.intro')),
    s.partial ? notice(t('settings.partial')) : null,
    SECTIONS.map((sec) => {
      const rows = s.settings.filter((x) => x.section === sec);
      if (!rows.length) return null;
      return h('section', { class: 'settings-section', 'aria-labelledby': `set-${sec}` },
        h('h2', { id: `set-${sec}` }, t(`settings.section.${sec}`)), settingsTable(rows, `settings-${sec}`));
    }),
    h('p', { class: 'hint' }, t(can('PUT', '/api/v1/settings/{key}') ? 'settings.change_here_or_file' : 'settings.change_in_file')),
    h('p', { class: 'hint' }, t('policy.defaults_note')));
}

/* --- notifications: e-mail and webhooks, with a test ---------------------------------------------------- */
function testCard(channel, configured) {
  const out = h('div', { id: `test-${channel}-result`, 'aria-live': 'polite' });
  const btn = button(t(`notify.test_${channel}`), (e) => busy(e.currentTarget, async () => {
    replace(out, h('p', { class: 'muted' }, t('notify.sending')));
    try {
      const r = await api('POST', '/api/v1/alerts/test', { body: { channel } });
      replace(out, notice(r.ok ? t('notify.test_ok') : t('notify.test_failed'), r.ok ? 'ok' : 'bad'),
        table({
          caption: t('notify.results'),
          columns: [
            { label: t('alerts.channel'), cell: (x) => h('span', { class: 'mono' }, x.channel) },
            { label: t('notify.target'), cell: (x) => h('span', { class: 'mono' }, x.target) },
            { label: t('notify.outcome'), cell: (x) => (x.ok ? badge(t('notify.delivered'), 'ok') : badge(t('notify.not_delivered'), 'bad')) },
            { label: t('alerts.last_error'), cell: (x) => x.error || '' },
            { label: t('notify.took'), cell: (x) => `${x.duration_ms} ms`, num: true },
          ],
          rows: r.results,
          empty: t('notify.no_targets'),
        }));
      out.dataset.ok = r.ok ? 'yes' : 'no';
      announce(r.ok ? t('notify.test_ok') : t('notify.test_failed'));
    } catch (err) {
      replace(out, notice(errorText(err), 'bad'));
      out.dataset.ok = 'no';
    }
  }), { kind: 'primary', attrs: { id: `test-${channel}` } });
  return [h('div', { class: 'row' }, btn, configured ? null : h('span', { class: 'hint' }, t(`notify.not_configured_${channel}`))), out];
}

export async function notifications(ctx) {
  const s = await api('GET', '/api/v1/settings');
  const rows = (sec) => s.settings.filter((x) => x.section === sec);
  const value = (key) => (s.settings.find((x) => x.key === key) || {}).value;
  const secret = (key) => s.omitted.find((x) => x.key === key);
  const secretLine = (key) => {
    const o = secret(key);
    return o ? h('p', { class: 'hint', dataset: { secret: key } }, t(o.configured ? 'notify.secret_set' : 'notify.secret_unset', { key })) : null;
  };
  add(ctx.main, settingsTabs('notifications'), pageHead(t('nav.notifications')),
    h('p', { class: 'muted' }, t('notify.intro')),
    h('section', { class: 'card', 'aria-labelledby': 'n-email' }, h('h2', { id: 'n-email' }, t('notify.email')),
      settingsTable(rows('smtp'), 'settings-smtp'), secretLine('smtp.password_file'),
      can('POST', '/api/v1/alerts/test') ? testCard('email', Boolean(value('smtp.relay'))) : null),
    h('section', { class: 'card', 'aria-labelledby': 'n-webhook' }, h('h2', { id: 'n-webhook' }, t('notify.webhook')),
      settingsTable(rows('webhook'), 'settings-webhook'), secretLine('webhook.secret_file'),
      can('POST', '/api/v1/alerts/test') ? testCard('webhook', Boolean(value('webhook.urls'))) : null),
    h('section', { class: 'card', 'aria-labelledby': 'n-rules' }, h('h2', { id: 'n-rules' }, t('settings.section.alerts')),
      settingsTable(rows('alerts'), 'settings-alerts')),
    h('p', { class: 'hint' }, t(can('PUT', '/api/v1/settings/{key}') ? 'settings.change_here_or_file' : 'settings.change_in_file')));
}

/* --- certificates ---------------------------------------------------------------------------------------- */
function certFacts(c) {
  if (!c || !c.readable) return notice(t('certs.unreadable'), 'bad');
  const soon = new Date(c.not_after).getTime() - Date.now() < 30 * 86400000;
  return h('dl', { class: 'facts' },
    c.subject != null ? [h('dt', null, t('certs.subject')), h('dd', { class: 'mono' }, c.subject)] : null,
    c.names ? [h('dt', null, t('certs.names')), h('dd', { class: 'mono', id: c.sha256 ? 'web-cert-names' : null }, c.names.join(', '))] : null,
    c.issuer != null ? [h('dt', null, t('certs.issuer')), h('dd', { class: 'mono' }, c.issuer)] : null,
    c.not_before ? [h('dt', null, t('certs.not_before')), h('dd', null, dateTime(c.not_before))] : null,
    h('dt', null, t('certs.not_after')), h('dd', { class: soon ? 'bad' : null }, dateTime(c.not_after)),
    c.sha256 ? [h('dt', null, t('certs.sha256')), h('dd', { class: 'mono', id: 'web-cert-sha256' }, c.sha256)] : null,
    c.path ? [h('dt', null, t('certs.file')), h('dd', { class: 'mono' }, c.path)] : null);
}

/** A textarea that a .pem file can also be loaded into. */
function pemField(name, label, hint) {
  const f = field({ name, label, type: 'textarea', required: true, hint, wide: true, attrs: { spellcheck: 'false', class: 'mono pem' } });
  const file = h('input', { type: 'file', accept: '.pem,.crt,.key,.cer,text/plain', 'aria-label': t('certs.load_file', { what: label }) });
  file.addEventListener('change', async () => {
    const picked = file.files && file.files[0];
    if (!picked) return;
    f.querySelector('textarea').value = await picked.text();
    file.value = '';
  });
  f.append(h('div', { class: 'row' }, h('span', { class: 'hint' }, t('certs.or_file')), file));
  return f;
}

export async function certificates(ctx) {
  const sys = await api('GET', '/api/v1/system');
  const c = sys.certificates;
  const result = h('div', { id: 'cert-result', 'aria-live': 'polite' });
  let form = null;
  if (c.web.own_files) {
    form = notice(t('certs.own_files', { path: c.web.path }), 'warn');
  } else if (can('PUT', '/api/v1/certificates/web')) {
    form = h('form', { id: 'cert-form', novalidate: true },
      h('div', { class: 'fields' },
        pemField('cert_pem', t('certs.cert_pem'), t('certs.cert_pem_hint')),
        pemField('key_pem', t('certs.key_pem'), t('certs.key_pem_hint'))),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('certs.store'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      replace(result);
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const stored = await api('PUT', '/api/v1/certificates/web', {
          body: { cert_pem: form.elements.cert_pem.value, key_pem: form.elements.key_pem.value },
        });
        form.reset(); // the key leaves the page
        replace(result, h('div', { class: 'notice ok', id: 'cert-stored' },
          h('p', null, t('certs.stored', { sha256: stored.sha256 })), h('p', null, h('strong', null, t('certs.restart')))));
        announce(t('certs.stored_short'));
        replace(current, certFacts(stored));
        replace(pending, notice(t('certs.pending'), 'warn'));
      } catch (err) {
        showErrors(form, err);
      } finally {
        btn.disabled = false;
      }
    });
  }
  const current = h('div', { id: 'web-cert' }, certFacts(c.web));
  const pending = h('div', null, c.web.restart_required ? notice(t('certs.pending'), 'warn') : null);
  add(ctx.main, settingsTabs('certificates'), pageHead(t('nav.certificates')),
    h('p', { class: 'muted' }, t('certs.intro')),
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-labelledby': 'c-web' }, h('h2', { id: 'c-web' }, t('certs.web')), pending, current),
      h('section', { class: 'card', 'aria-labelledby': 'c-dev' }, h('h2', { id: 'c-dev' }, t('certs.devices')),
        h('p', { class: 'muted' }, t('certs.devices_intro')),
        h('h3', null, t('certs.device_ca')), certFacts(c.device_ca),
        h('h3', null, t('certs.device_link')), certFacts(c.device_link))),
    h('section', { class: 'card', 'aria-labelledby': 'c-new' }, h('h2', { id: 'c-new' }, t('certs.replace')),
      h('p', { class: 'muted' }, t('certs.replace_intro')), notice(t('certs.restart_note'), 'warn'), form, result));
}
