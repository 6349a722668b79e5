// A list of records with create, change and delete in dialogs: sites,
// doors, groups, levels, tenants. Changes send the version read as
// If-Match; the API's field errors land on the dialog's controls.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import {
  can, pageHead, table, pager, button, busy, announce, notice, openDialog, confirmDialog, showErrors, clearErrors,
  errorText,
} from '../ui.js';
import { invalidate } from '../store.js';

/**
 * spec: {
 *   title, path (e.g. '/api/v1/sites'), kind (store list to refresh),
 *   columns(item) -> table columns, fields(item|null) -> form controls (async),
 *   body(form, item|null) -> request body, query() -> list filters,
 *   newLabel, editLabel(item), deleteLabel(item), after() (after a change),
 *   detailHref(item) (a page of its own instead of the edit dialog),
 *   before: nodes above the list (filters), limit,
 *   rowActions(item, changed) -> more buttons for a row
 * }
 */
export async function crudPage(ctx, spec) {
  const base = spec.apiPath || spec.path;
  const canCreate = can('POST', base);
  const canEdit = can('PATCH', `${base}/{id}`);
  const canDelete = can('DELETE', `${base}/{id}`);
  const results = h('div', { id: `${spec.id}-list` });

  async function changed() {
    if (spec.kind) invalidate(spec.kind);
    if (spec.after) await spec.after();
    await p.reload();
  }

  async function openForm(item) {
    const form = h('form', { novalidate: true, id: `${spec.id}-form` },
      h('div', { class: 'fields' }, await spec.fields(item)),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, item ? t('common.save') : t('common.create'))));
    const { close } = openDialog({ title: item ? spec.editLabel(item) : spec.newLabel, body: form, closeLabel: t('common.cancel') });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const body = spec.body(form, item);
        if (item) await api('PATCH', `${base}/${item.id}`, { body, version: item.version });
        else await api('POST', base, { body });
        close();
        announce(item ? t('common.saved') : t('common.created'));
        await changed();
      } catch (err) {
        showErrors(form, err);
        if (err instanceof ApiError && err.code === 'precondition_failed') {
          form.querySelector('.form-error').textContent = t('error.precondition_failed');
        }
      } finally {
        btn.disabled = false;
      }
    });
    const first = form.querySelector('input:not([type=hidden]),select,textarea');
    if (first) first.focus();
  }

  async function remove(item) {
    const ok = await confirmDialog({
      title: spec.deleteLabel(item),
      body: h('p', null, spec.deleteText ? spec.deleteText(item) : t('common.delete_q', { name: item.name })),
      confirmLabel: t('common.delete'),
      danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', `${base}/${item.id}`);
      announce(t('common.deleted'));
      await changed();
    } catch (e) {
      // 409: still in use (doors of a site, levels of a schedule ...): the server says by what.
      announce(errorText(e));
      replace(status, notice(e instanceof ApiError && e.code === 'conflict' ? e.message : errorText(e), 'bad'));
    }
  }

  const status = h('div', { 'aria-live': 'polite' });
  const p = pager({
    label: spec.title,
    load: async (cursor) => {
      try {
        return await api('GET', base, { query: { limit: spec.limit || 50, cursor, ...(spec.query ? spec.query() : {}) } });
      } catch (e) {
        replace(results, notice(errorText(e), 'bad'));
        return { items: null, next_cursor: null };
      }
    },
    render: async (items) => {
      if (!items) return;
      const extra = [];
      if (spec.detailHref || spec.rowActions || canEdit || canDelete) {
        extra.push({
          label: t('common.actions'),
          actions: true,
          cell: (item) => h('div', { class: 'row' },
            spec.rowActions ? spec.rowActions(item, changed) : null,
            spec.detailHref ? h('a', { class: 'button small', href: spec.detailHref(item) }, canEdit ? t('common.edit') : t('common.open')) : null,
            !spec.detailHref && canEdit ? button(t('common.edit'), (e) => busy(e.currentTarget, () => openForm(item)), { kind: 'small', attrs: { 'aria-label': spec.editLabel(item) } }) : null,
            canDelete ? button(t('common.delete'), () => remove(item), { kind: 'small', attrs: { 'aria-label': spec.deleteLabel(item) } }) : null),
        });
      }
      const columns = await spec.columns();
      replace(results, table({ caption: spec.title, columns: [...columns, ...extra], rows: items, empty: spec.empty }));
    },
  });

  const actions = [];
  if (canCreate) {
    actions.push(spec.newHref
      ? h('a', { class: 'button primary', href: spec.newHref }, spec.newLabel)
      : button(spec.newLabel, (e) => busy(e.currentTarget, () => openForm(null)), { kind: 'primary', attrs: { id: `${spec.id}-new` } }));
  }
  add(ctx.main, pageHead(spec.title, ...actions), spec.intro ? h('p', { class: 'muted' }, spec.intro) : null,
    spec.before || null, status, results, p.el);
  if (spec.onFilter) spec.onFilter(() => p.first());
  await p.first();
  return { reload: () => p.reload() };
}
