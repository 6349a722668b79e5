// Shared pieces of the pages: permission checks from the API description,
// labelled form fields with per-field errors, tables, paging by cursor,
// dialogs and status messages.

import { h, replace, uid } from './dom.js';
import { t, tOr } from './i18n.js';
import { ApiError } from './api.js';

/* --- who may do what ----------------------------------------------------------
 * web/openapi.json gives every operation's roles (x-roles); the console
 * shows only what the admin's role may do. The server decides anyway. */
const perms = { roles: null, role: null };

export function setPermissions(openapi, role) {
  const map = new Map();
  for (const [path, ops] of Object.entries((openapi && openapi.paths) || {})) {
    for (const [m, op] of Object.entries(ops)) {
      if (op && Array.isArray(op['x-roles'])) map.set(`${m.toUpperCase()} ${path}`, op['x-roles']);
    }
  }
  perms.roles = map.size ? map : null;
  perms.role = role;
}

export function can(method, path) {
  if (!perms.roles) return true;
  const roles = perms.roles.get(`${method} ${path}`);
  if (!roles) return false;
  return roles.length === 0 || roles.includes(perms.role);
}

export function role() {
  return perms.role;
}

/* --- messages ------------------------------------------------------------------- */
let statusTimer = null;

/** A short message in the polite live region (screen readers read it). */
export function announce(message) {
  const el = document.getElementById('status');
  el.textContent = '';
  // A fresh text node is announced even when it repeats the last message.
  setTimeout(() => { el.textContent = message; }, 30);
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { el.textContent = ''; }, 7000);
}

let alertTimer = null;
export function alertMessage(message) {
  const el = document.getElementById('alert');
  el.textContent = message;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => { el.textContent = ''; }, 10000);
}

/** An API error as one line for people: our text for the code, the server's details. */
export function errorText(err) {
  if (!(err instanceof ApiError)) return t('error.network', { message: err && err.message ? err.message : String(err) });
  if (err.code === 'forbidden') return t('error.forbidden');
  if (err.code === 'rate_limited') return t('error.rate_limited', { s: err.retryAfter || 1 });
  if (err.code === 'blocked') return t('error.blocked', { message: err.message });
  // A 503 may say why (a full disk, a database that cannot be written): keep the appliance's words.
  if (err.code === 'unavailable') return err.message ? `${t('error.unavailable')} ${t('error.detail', { message: err.message })}` : t('error.unavailable');
  if (err.code === 'precondition_failed') return t('error.precondition_failed');
  if (err.code === 'not_found') return t('error.not_found', { message: err.message });
  if (err.code === 'invalid') {
    const list = (err.fields || []).map((f) => `${f.field}: ${reasonText(f.reason)}`).join('; ');
    return list ? `${t('error.invalid')} ${list}` : t('error.invalid');
  }
  return tOr(`error.${err.code}`, err.message, { message: err.message });
}

/** A field's problem: our translation when we know the reason, else the server's words. */
export function reasonText(reason) {
  return tOr(`reason.${reason}`, reason);
}

/* --- page furniture -------------------------------------------------------------------- */
export function pageHead(title, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), ...actions);
}

export function tabs(items, current) {
  return h('nav', { 'aria-label': t('common.sections') },
    h('ul', { class: 'tabs' }, items.filter((i) => i.show !== false).map((i) => h('li', null,
      h('a', { href: i.href, 'aria-current': i.id === current ? 'page' : null }, i.label)))));
}

export function notice(text, kind = '') {
  return h('p', { class: `notice ${kind}` }, text);
}

export function loading() {
  return h('p', { class: 'muted' }, t('common.loading'));
}

/** A card's worth of error for a page that could not load. */
export function failed(err) {
  return notice(errorText(err), 'bad');
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}` }, text);
}

export function button(label, onClick, { kind = '', type = 'button', disabled = false, attrs = {} } = {}) {
  return h('button', { type, class: kind, disabled, on: onClick ? { click: onClick } : null, ...attrs }, label);
}

/** Run an action with its button disabled; errors go to the alert region. */
export async function busy(btn, fn) {
  if (btn) btn.disabled = true;
  try {
    return await fn();
  } catch (e) {
    alertMessage(errorText(e));
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}

/* --- forms ---------------------------------------------------------------------------------- */

/**
 * field({name, label, type, value, required, options, hint, attrs, wide})
 * A labelled control with a place for its error; type 'select' takes
 * options [{value, label}], 'textarea' a text area, 'checkbox' a box.
 */
export function field(spec) {
  const id = uid(spec.name || 'f');
  const errId = `${id}-err`;
  const hintId = spec.hint ? `${id}-hint` : null;
  const describedBy = [hintId, errId].filter(Boolean).join(' ');
  const common = {
    id, name: spec.name, required: spec.required, 'aria-describedby': describedBy,
    autocomplete: spec.autocomplete || 'off', ...(spec.attrs || {}),
  };
  let control;
  if (spec.type === 'select') {
    control = h('select', { ...common, autocomplete: null, value: spec.value },
      (spec.options || []).map((o) => h('option', { value: o.value }, o.label)));
  } else if (spec.type === 'textarea') {
    control = h('textarea', { ...common, value: spec.value });
  } else if (spec.type === 'checkbox') {
    control = h('input', { ...common, type: 'checkbox', checked: Boolean(spec.value), autocomplete: null });
    return h('div', { class: ['field', spec.wide && 'wide'] },
      h('label', { class: 'checks' }, control, spec.label),
      spec.hint ? h('p', { class: 'hint', id: hintId }, spec.hint) : null,
      h('p', { class: 'error', id: errId }));
  } else {
    control = h('input', { ...common, type: spec.type || 'text', value: spec.value });
  }
  return h('div', { class: ['field', spec.wide && 'wide'] },
    h('label', { for: id }, spec.label, spec.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, '*') : null),
    control,
    spec.hint ? h('p', { class: 'hint', id: hintId }, spec.hint) : null,
    h('p', { class: 'error', id: errId }));
}

/** A group of checkboxes named NAME with values; checked: a Set of values. */
export function checkGroup({ name, legend, options, checked = new Set(), hint }) {
  const errId = uid(`${name}-err`);
  return h('fieldset', { class: 'field wide', dataset: { field: name }, 'aria-describedby': errId },
    h('legend', null, legend),
    options.length
      ? h('div', { class: 'checks' }, options.map((o) => h('label', null,
        h('input', { type: 'checkbox', name, value: String(o.value), checked: checked.has(o.value) }), o.label)))
      : h('p', { class: 'muted' }, hint || t('common.none')),
    h('p', { class: 'error', id: errId }));
}

export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[type=checkbox][name="${name}"]`)].filter((c) => c.checked).map((c) => c.value);
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.error')) el.textContent = '';
  const summary = form.querySelector('.form-error');
  if (summary) summary.textContent = '';
}

/** The control (or fieldset) for an API field name such as "email" or "windows[2]". */
function controlFor(form, name) {
  const base = name.replace(/\[\d+\]$/, '');
  return form.querySelector(`[data-field="${CSS.escape(name)}"]`) ||
    form.querySelector(`[name="${CSS.escape(name)}"]`) ||
    form.querySelector(`[data-field="${CSS.escape(base)}"]`) ||
    form.querySelector(`[name="${CSS.escape(base)}"]`);
}

function errorSlot(ctl) {
  if (!ctl) return null;
  const holder = ctl.closest('.field, .win-row, fieldset') || ctl.parentElement;
  return holder.querySelector('.error');
}

/**
 * Show an error on a form: each of the API's fields at its control, the
 * rest (and the message) in the form's summary. Focus goes to the first
 * control at fault. Returns true when the error was shown.
 */
export function showErrors(form, err) {
  clearErrors(form);
  let summary = form.querySelector('.form-error');
  if (!summary) {
    summary = h('p', { class: 'form-error', role: 'alert' });
    form.append(summary);
  }
  const loose = [];
  let first = null;
  for (const f of (err && err.fields) || []) {
    const ctl = controlFor(form, f.field);
    const slot = errorSlot(ctl);
    if (ctl && slot) {
      ctl.setAttribute('aria-invalid', 'true');
      slot.textContent = slot.textContent ? `${slot.textContent}; ${reasonText(f.reason)}` : reasonText(f.reason);
      first = first || ctl;
    } else {
      loose.push(`${f.field}: ${reasonText(f.reason)}`);
    }
  }
  const text = err && err.fields && err.fields.length
    ? [t('error.invalid'), ...loose].join(' ')
    : errorText(err);
  summary.textContent = text;
  if (first) {
    const focusable = first.matches('fieldset') ? first.querySelector('input,select,textarea') : first;
    if (focusable) focusable.focus();
  }
  return true;
}

/** Values of named controls as strings (checkbox groups via checkedValues). */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.type === 'checkbox' || el.type === 'file' || el.disabled) continue;
    out[el.name] = el.value;
  }
  return out;
}

/* Empty text means "no value": null for the API's optional fields. */
export function orNull(s) {
  const v = typeof s === 'string' ? s.trim() : s;
  return v === '' || v == null ? null : v;
}

export function intOrNull(s) {
  const v = orNull(s);
  return v == null ? null : Number(v);
}

/* --- tables and paging ---------------------------------------------------------------------- */

/** table({caption, columns: [{label, cell(row), num}], rows, empty}) */
export function table({ caption, columns, rows, empty }) {
  if (!rows.length) return h('div', { class: 'table-wrap' }, h('p', { class: 'empty' }, empty || t('common.empty')));
  return h('div', { class: 'table-wrap' }, h('table', null,
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', null, rows.map((r) => h('tr', null, columns.map((c) => {
      const v = c.cell(r);
      return h('td', { class: [c.num && 'num', c.actions && 'actions'] }, v == null ? '' : v);
    }))))));
}

/**
 * Paging by cursor: the API gives next_cursor; "previous" walks back along
 * the cursors seen. load(cursor) returns a page; render(items) draws it.
 */
export function pager({ load, render, label }) {
  const cursors = [null];
  let index = 0;
  let next = null;
  const prevBtn = button(t('common.previous'), () => go(index - 1));
  const nextBtn = button(t('common.next'), () => go(index + 1));
  const where = h('span', { class: 'muted', 'aria-live': 'polite' });
  const el = h('nav', { class: 'pager', 'aria-label': label || t('common.pages') }, prevBtn, where, nextBtn);

  async function go(i) {
    if (i > index) {
      if (!next) return;
      cursors[i] = next;
    }
    index = i;
    prevBtn.disabled = true;
    nextBtn.disabled = true;
    try {
      const page = await load(cursors[index]);
      next = page.next_cursor;
      await render(page.items);
    } catch (e) {
      next = null;
      alertMessage(errorText(e));
    }
    prevBtn.disabled = index === 0;
    nextBtn.disabled = !next;
    where.textContent = t('common.page_n', { n: index + 1 });
  }
  return {
    el,
    first: () => { cursors.length = 1; index = 0; return go(0); },
    reload: () => go(index),
  };
}

/* --- dialogs ----------------------------------------------------------------------------------- */

/**
 * openDialog({title, body, actions, cls}) shows a modal <dialog> (focus is
 * kept inside, Escape closes); returns {dialog, close}.
 */
export function openDialog({ title, body, actions = [], cls = '', onClose, closeLabel }) {
  const titleId = uid('dlg');
  const footer = h('footer');
  const dialog = h('dialog', { class: cls, 'aria-labelledby': titleId },
    h('div', { class: 'dlg' },
      h('header', null, h('h2', { id: titleId }, title)),
      h('div', { class: 'dlg-body' }, body),
      footer));
  const close = () => { if (dialog.open) dialog.close(); };
  for (const a of actions) footer.append(button(a.label, (e) => a.onClick(e, close), { kind: a.kind || '', attrs: a.attrs }));
  if (closeLabel !== false) footer.append(button(closeLabel || t('common.close'), close));
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close };
}

/**
 * confirmDialog({title, body, confirmLabel, danger, check}) resolves true
 * when confirmed; with `check`, a box must be ticked first.
 */
export function confirmDialog({ title, body, confirmLabel, danger = false, check }) {
  return new Promise((resolve) => {
    let result = false;
    const box = check ? h('input', { type: 'checkbox', id: uid('confirm') }) : null;
    const content = [body, check ? h('p', null, h('label', { class: 'checks' }, box, check)) : null];
    const { dialog } = openDialog({
      title,
      body: content,
      onClose: () => resolve(result),
      closeLabel: t('common.cancel'),
      actions: [{
        label: confirmLabel || t('common.ok'),
        kind: danger ? 'danger' : 'primary',
        attrs: { 'data-confirm': 'yes' },
        onClick: (e, close) => {
          if (box && !box.checked) {
            box.focus();
            alertMessage(t('common.tick_to_confirm'));
            return;
          }
          result = true;
          close();
        },
      }],
    });
    const target = box || dialog.querySelector('[data-confirm]');
    if (target) target.focus();
  });
}

/** A secret shown once: a dialog that says so, with a copy button. */
export function showOnce({ title, intro, secret, extra }) {
  const code = h('p', { class: 'secret', tabindex: '0', 'data-secret': 'yes' }, secret);
  const copy = button(t('common.copy'), async () => {
    try {
      await navigator.clipboard.writeText(secret);
      announce(t('common.copied'));
    } catch {
      const r = document.createRange();
      r.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    }
  });
  return openDialog({
    title,
    body: [h('p', null, intro), code, h('div', { class: 'row' }, copy), extra || null,
      notice(t('common.shown_once'), 'warn')],
    onClose: () => replace(code, ''),
    closeLabel: t('common.done'),
  });
}

/* --- small helpers ------------------------------------------------------------------------------- */
export function yesNo(v) {
  return v ? t('common.yes') : t('common.no');
}

export function link(href, text) {
  return h('a', { href }, text);
}

