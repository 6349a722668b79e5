// Alerts: the list with filters (state, severity, kind), acknowledge and
// resolve with a note, and each alert's deliveries by e-mail and webhook.

import { add, h, replace } from '../dom.js';
import { t, tOr } from '../i18n.js';
import { api } from '../api.js';
import { dateTime } from '../fmt.js';
import {
  can, pageHead, field, table, pager, button, busy, announce, badge, openDialog, showErrors, clearErrors, notice,
} from '../ui.js';

const SEVERITIES = ['info', 'warning', 'critical'];
const STATES = ['open', 'acknowledged', 'resolved'];

export function severityBadge(s) {
  return badge(t(`alerts.severity.${s}`), s === 'critical' ? 'bad' : s === 'warning' ? 'warn' : '');
}

export function stateBadge(s) {
  return badge(t(`alerts.state.${s}`), s === 'resolved' ? 'ok' : s === 'acknowledged' ? '' : 'warn');
}

function details(d) {
  const entries = Object.entries(d || {});
  if (!entries.length) return '';
  return h('dl', { class: 'facts small' }, entries.map(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
}

async function deliveries(a) {
  const page = await api('GET', `/api/v1/alerts/${a.id}/deliveries`);
  openDialog({
    title: t('alerts.deliveries_of', { subject: a.subject }),
    body: [
      h('p', { class: 'muted' }, t('alerts.deliveries_intro')),
      table({
        caption: t('alerts.deliveries'),
        columns: [
          { label: t('alerts.channel'), cell: (d) => h('span', { class: 'mono' }, d.channel) },
          { label: t('alerts.notice'), cell: (d) => t(`alerts.notice.${d.notice}`) },
          { label: t('alerts.delivery_state'), cell: (d) => badge(t(`alerts.delivery.${d.state}`), d.state === 'sent' ? 'ok' : d.state === 'failed' ? 'bad' : 'warn') },
          { label: t('alerts.attempts'), cell: (d) => String(d.attempts), num: true },
          { label: t('alerts.sent_at'), cell: (d) => (d.sent_at ? dateTime(d.sent_at) : '') },
          { label: t('alerts.next_attempt'), cell: (d) => (d.next_attempt_at && d.state === 'pending' ? dateTime(d.next_attempt_at) : '') },
          { label: t('alerts.last_error'), cell: (d) => d.last_error || '' },
        ],
        rows: page.items,
        empty: t('alerts.no_deliveries'),
      })],
  });
}

function resolveDialog(a, after) {
  const form = h('form', { novalidate: true, id: 'resolve-form' },
    h('p', null, a.subject),
    field({ name: 'note', label: t('alerts.note'), type: 'textarea', hint: t('alerts.note_hint'), attrs: { maxlength: 1000 } }),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('alerts.resolve'))));
  const { close } = openDialog({ title: t('alerts.resolve_title'), body: form, closeLabel: t('common.cancel') });
  form.elements.note.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const note = form.elements.note.value.trim();
    try {
      await api('POST', `/api/v1/alerts/${a.id}/resolve`, { body: note ? { note } : {} });
      close();
      announce(t('alerts.resolved_done', { subject: a.subject }));
      await after();
    } catch (err) {
      showErrors(form, err);
    }
  });
}

const filters = { state: 'unresolved', severity: '', kind: '' };

export async function page(ctx) {
  const results = h('div', { id: 'alerts-list' });
  const canAck = can('POST', '/api/v1/alerts/{id}/acknowledge');
  const canResolve = can('POST', '/api/v1/alerts/{id}/resolve');
  const form = h('form', { class: 'search', id: 'alerts-filters', role: 'search', 'aria-label': t('alerts.filters'), novalidate: true },
    field({ name: 'state', label: t('alerts.state'), type: 'select', value: filters.state,
      options: [{ value: 'unresolved', label: t('alerts.state.unresolved') }, ...STATES.map((s) => ({ value: s, label: t(`alerts.state.${s}`) })),
        { value: '', label: t('events.any') }] }),
    field({ name: 'severity', label: t('alerts.severity'), type: 'select', value: filters.severity,
      options: [{ value: '', label: t('events.any') }, ...SEVERITIES.map((s) => ({ value: s, label: t(`alerts.severity.${s}`) }))] }),
    field({ name: 'kind', label: t('alerts.kind'), value: filters.kind, hint: t('alerts.kind_hint') }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('audit.apply'))),
    h('p', { class: 'form-error', role: 'alert' }));

  const p = pager({
    label: t('nav.alerts'),
    load: async (cursor) => {
      try {
        return await api('GET', '/api/v1/alerts', { query: { ...filters, limit: 50, cursor } });
      } catch (e) {
        showErrors(form, e);
        return { items: null, next_cursor: null };
      }
    },
    render: (items) => {
      if (!items) return;
      replace(results, table({
        caption: t('nav.alerts'),
        columns: [
          { label: t('alerts.severity'), cell: (a) => severityBadge(a.severity) },
          { label: t('alerts.subject'), cell: (a) => [h('strong', null, a.subject), h('p', { class: 'hint' }, tOr(`alerts.kind.${a.kind}`, a.kind))] },
          { label: t('alerts.state'), cell: (a) => h('span', { dataset: { state: a.state } }, stateBadge(a.state)) },
          { label: t('alerts.occurrences'), cell: (a) => String(a.occurrences), num: true },
          { label: t('alerts.raised'), cell: (a) => dateTime(a.created_at) },
          { label: t('alerts.last_seen'), cell: (a) => dateTime(a.last_seen_at || a.created_at) },
          { label: t('alerts.handled'), cell: (a) => (a.resolved_at ? [dateTime(a.resolved_at), a.resolution ? h('p', { class: 'hint' }, a.resolution) : null] : a.acknowledged_at ? dateTime(a.acknowledged_at) : '') },
          { label: t('alerts.details'), cell: (a) => details(a.details) },
          {
            label: t('common.actions'), actions: true,
            cell: (a) => h('div', { class: 'row' },
              canAck && a.state === 'open' ? button(t('alerts.acknowledge'), (e) => busy(e.currentTarget, async () => {
                await api('POST', `/api/v1/alerts/${a.id}/acknowledge`);
                announce(t('alerts.acknowledged_done', { subject: a.subject }));
                await p.reload();
              }), { kind: 'small', attrs: { 'aria-label': t('alerts.acknowledge_named', { subject: a.subject }), dataset: { ack: String(a.id) } } }) : null,
              canResolve && a.state !== 'resolved' ? button(t('alerts.resolve'), () => resolveDialog(a, () => p.reload()),
                { kind: 'small', attrs: { 'aria-label': t('alerts.resolve_named', { subject: a.subject }), dataset: { resolve: String(a.id) } } }) : null,
              button(t('alerts.deliveries'), (e) => busy(e.currentTarget, () => deliveries(a)),
                { kind: 'small', attrs: { 'aria-label': t('alerts.deliveries_of', { subject: a.subject }), dataset: { deliveries: String(a.id) } } })),
          },
        ],
        rows: items,
        empty: t('alerts.none'),
      }));
    },
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(form);
    for (const k of Object.keys(filters)) filters[k] = form.elements[k].value.trim();
    p.first().then(() => announce(t('alerts.filtered')));
  });
  add(ctx.main, pageHead(t('nav.alerts')), h('p', { class: 'muted' }, t('alerts.intro')),
    can('POST', '/api/v1/alerts/test') ? notice(t('alerts.channels_note')) : null,
    form, results, p.el);
  await p.first();
  // Kept current while shown: new alerts come every few seconds at most.
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && ctx.live() && !document.querySelector('dialog[open]')) p.reload();
  }, 15000);
  ctx.onLeave(() => clearInterval(timer));
}
