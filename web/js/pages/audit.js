// The audit log: filters, paging, and the chain verification.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { dateTime, fromLocal, utc, zone, number } from '../fmt.js';
import {
  can, pageHead, field, table, pager, button, busy, announce, notice, badge, showErrors, clearErrors,
} from '../ui.js';
import { statusBadge } from './dashboard.js';

const filters = { from: '', to: '', actor: '', action: '', target: '' };

function details(d) {
  if (d == null || d === '' || (typeof d === 'object' && !Object.keys(d).length)) return '';
  return h('code', { class: 'mono' }, typeof d === 'string' ? d : JSON.stringify(d));
}

function outcomeBadge(o) {
  return badge(t(`audit.outcome.${o}`), o === 'ok' ? 'ok' : o === 'denied' ? 'warn' : 'bad');
}

async function verifyCard() {
  const out = h('div', { id: 'verify-result', 'aria-live': 'polite' });
  const btn = button(t('audit.verify'), (e) => busy(e.currentTarget, async () => {
    replace(out, h('p', { class: 'muted' }, t('audit.verifying')));
    const v = await api('GET', '/api/v1/audit/verify');
    replace(out, v.ok
      ? notice(t('audit.verified', { n: number(v.entries), heads: number(v.signed_heads), tail: number(v.unsigned_tail) }), 'ok')
      : h('div', { class: 'notice bad' },
        h('p', null, t('audit.broken', { n: number(v.entries) })),
        v.first_bad ? h('p', null, t('audit.first_bad', { id: v.first_bad.id, uid: v.first_bad.uid, reason: v.first_bad.reason })) : null));
    announce(v.ok ? t('audit.verified_short') : t('audit.broken_short'));
  }), { kind: 'primary', attrs: { id: 'audit-verify' } });
  let job = null;
  if (can('GET', '/api/v1/jobs')) {
    try {
      const jobs = await api('GET', '/api/v1/jobs');
      const j = jobs.items.find((x) => x.name === 'audit-verify');
      if (j) job = h('p', null, t('audit.job_last'), ' ', statusBadge(j.last_status), ' ', j.last_finished_at ? dateTime(j.last_finished_at) : '', ' · ', h('a', { href: '#/jobs/audit-verify' }, t('audit.job_runs')));
    } catch { /* the card works without it */ }
  }
  return h('section', { class: 'card', 'aria-labelledby': 'verify-title' },
    h('h2', { id: 'verify-title' }, t('audit.chain')),
    h('p', { class: 'muted' }, t('audit.chain_intro')), job, h('div', { class: 'row' }, btn), out);
}

export async function page(ctx) {
  const results = h('div', { id: 'audit-list' });
  const form = h('form', { class: 'search', id: 'audit-filters', role: 'search', 'aria-label': t('audit.filters'), novalidate: true },
    field({ name: 'from', label: t('audit.from'), type: 'datetime-local', value: filters.from }),
    field({ name: 'to', label: t('audit.to'), type: 'datetime-local', value: filters.to }),
    field({ name: 'actor', label: t('audit.actor'), value: filters.actor, hint: t('audit.actor_hint') }),
    field({ name: 'action', label: t('audit.action'), value: filters.action, hint: t('audit.action_hint') }),
    field({ name: 'target', label: t('audit.target'), value: filters.target, hint: t('audit.target_hint') }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('audit.apply')),
      button(t('people.clear'), () => { Object.keys(filters).forEach((k) => { filters[k] = ''; form.elements[k].value = ''; }); p.first(); })),
    h('p', { class: 'form-error', role: 'alert' }));
  const p = pager({
    label: t('nav.audit'),
    load: async (cursor) => {
      const q = { limit: 50, cursor, actor: filters.actor, action: filters.action, target: filters.target };
      if (filters.from) q.from = utc(fromLocal(filters.from));
      if (filters.to) q.to = utc(fromLocal(filters.to));
      try {
        return await api('GET', '/api/v1/audit', { query: q });
      } catch (e) {
        showErrors(form, e);
        return { items: null, next_cursor: null };
      }
    },
    render: (items) => {
      if (!items) return;
      replace(results, table({
        caption: t('nav.audit'),
        columns: [
          { label: t('audit.time'), cell: (e) => h('time', { datetime: e.at }, dateTime(e.at)) },
          { label: t('audit.actor'), cell: (e) => e.actor_id },
          { label: t('audit.source'), cell: (e) => e.source },
          { label: t('audit.action'), cell: (e) => h('span', { class: 'mono', dataset: { action: e.action } }, e.action) },
          { label: t('audit.target'), cell: (e) => e.target },
          { label: t('audit.outcome'), cell: (e) => outcomeBadge(e.outcome) },
          { label: t('audit.details'), cell: (e) => details(e.details) },
        ],
        rows: items,
        empty: t('audit.none'),
      }));
    },
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(form);
    for (const k of Object.keys(filters)) filters[k] = form.elements[k].value.trim();
    p.first().then(() => announce(t('audit.filtered')));
  });
  add(ctx.main, pageHead(t('nav.audit')),
    can('GET', '/api/v1/audit/verify') ? await verifyCard() : null,
    h('p', { class: 'hint' }, t('audit.zone', { zone: zone() })),
    form, results, p.el);
  await p.first();
}

