// The event log: what terminals reported, newest first, with filters (time
// range in the site's zone, site, door, terminal, person found by exact
// e-mail, employee number or card, kind, result), paging by cursor, and
// the same selection exported as CSV or XLSX.

import { add, h, replace } from '../dom.js';
import { t, tOr } from '../i18n.js';
import { api, download } from '../api.js';
import { dateTime, fromLocal, utc, zone, number } from '../fmt.js';
import {
  pageHead, field, table, pager, button, announce, badge, showErrors, clearErrors, alertMessage, errorText, link, busy,
} from '../ui.js';
import { lookup, nameOf } from '../store.js';

export const KINDS = ['access', 'door_opened', 'door_closed', 'door_forced', 'door_held', 'tamper', 'lockdown'];

export function kindText(kind) {
  return tOr(`events.kind.${kind}`, kind);
}

export function resultBadge(result) {
  if (!result) return '';
  return badge(t(`events.result.${result}`), result === 'granted' ? 'ok' : 'bad');
}

export function reasonText(ev) {
  if (!ev.reason) return '';
  if (ev.kind === 'lockdown') return tOr(`events.lockdown.${ev.reason}`, ev.reason);
  return tOr(`decision.${ev.reason}`, ev.reason);
}

function who(ev) {
  if (ev.person_name) return ev.person_id ? link(`#/people/${ev.person_id}`, ev.person_name) : ev.person_name;
  if (ev.person_id) return `#${ev.person_id}`;
  return '';
}

/** One event as a line (the dashboard's live list). */
export function eventRow(ev) {
  const where = [ev.door_name, ev.device_name].filter(Boolean).join(' · ');
  const person = who(ev);
  return [
    h('p', { class: 'spread' },
      h('span', null, h('strong', null, kindText(ev.kind)), ' ', resultBadge(ev.result), ev.reason ? h('span', { class: 'muted' }, ` ${reasonText(ev)}`) : null),
      h('time', { datetime: ev.at, class: 'hint' }, dateTime(ev.at))),
    h('p', { class: 'hint' }, where || t('events.no_door'), person ? [' · ', person] : null, ev.card ? ` · ${ev.card}` : ''),
  ];
}

const filters = { from: '', to: '', site_id: '', door_id: '', device_id: '', by: 'email', who: '', kind: '', result: '' };

/** The API query of the filters; resolves the person; null when nobody matches. */
async function query(form) {
  const q = {};
  if (filters.from) q.from = utc(fromLocal(filters.from));
  if (filters.to) q.to = utc(fromLocal(filters.to));
  for (const k of ['site_id', 'door_id', 'device_id', 'kind', 'result']) if (filters[k]) q[k] = filters[k];
  if (filters.who) {
    if (filters.by === 'card') {
      q.card = filters.who;
    } else {
      const found = await api('GET', '/api/v1/people', { query: { [filters.by]: filters.who, limit: 1 } });
      if (!found.items.length) {
        showErrors(form, { fields: [{ field: 'who', reason: t('events.nobody') }] });
        return null;
      }
      q.person_id = found.items[0].id;
    }
  }
  return q;
}

export async function page(ctx) {
  const [sites, doors, devices] = await Promise.all([
    lookup('sites').catch(() => null), lookup('doors').catch(() => null), lookup('devices').catch(() => null),
  ]);
  const opts = (list) => [{ value: '', label: t('events.any') },
    ...((list && list.items) || []).map((x) => ({ value: String(x.id), label: x.name }))];
  const results = h('div', { id: 'events-list' });
  const progress = h('p', { class: 'hint', id: 'events-export-progress', 'aria-live': 'polite' });
  const form = h('form', { class: 'search', id: 'events-filters', role: 'search', 'aria-label': t('events.filters'), novalidate: true },
    field({ name: 'from', label: t('audit.from'), type: 'datetime-local', value: filters.from }),
    field({ name: 'to', label: t('audit.to'), type: 'datetime-local', value: filters.to }),
    field({ name: 'site_id', label: t('events.site'), type: 'select', value: filters.site_id, options: opts(sites) }),
    field({ name: 'door_id', label: t('events.door'), type: 'select', value: filters.door_id, options: opts(doors) }),
    field({ name: 'device_id', label: t('events.terminal'), type: 'select', value: filters.device_id, options: opts(devices) }),
    field({ name: 'by', label: t('events.person_by'), type: 'select', value: filters.by,
      options: [['email', t('people.email')], ['employee_no', t('people.employee_no')], ['card', t('people.card')]].map(([value, label]) => ({ value, label })) }),
    field({ name: 'who', label: t('events.person'), value: filters.who, hint: t('events.person_hint') }),
    field({ name: 'kind', label: t('events.kind'), type: 'select', value: filters.kind,
      options: [{ value: '', label: t('events.any') }, ...KINDS.map((k) => ({ value: k, label: kindText(k) }))] }),
    field({ name: 'result', label: t('events.result'), type: 'select', value: filters.result,
      options: [{ value: '', label: t('events.any') }, { value: 'granted', label: t('events.result.granted') }, { value: 'denied', label: t('events.result.denied') }] }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('audit.apply')),
      button(t('people.clear'), () => {
        Object.assign(filters, { from: '', to: '', site_id: '', door_id: '', device_id: '', by: 'email', who: '', kind: '', result: '' });
        for (const k of Object.keys(filters)) form.elements[k].value = filters[k];
        clearErrors(form);
        p.first();
      })),
    h('p', { class: 'form-error', role: 'alert' }));

  let current = {};
  const p = pager({
    label: t('nav.events'),
    load: async (cursor) => {
      try {
        return await api('GET', '/api/v1/events', { query: { ...current, limit: 50, cursor } });
      } catch (e) {
        showErrors(form, e);
        return { items: null, next_cursor: null };
      }
    },
    render: (items) => {
      if (!items) return;
      replace(results, table({
        caption: t('nav.events'),
        columns: [
          { label: t('events.time'), cell: (e) => h('time', { datetime: e.at }, dateTime(e.at)) },
          { label: t('events.kind'), cell: (e) => h('span', { dataset: { kind: e.kind } }, kindText(e.kind)) },
          { label: t('events.result'), cell: (e) => resultBadge(e.result) },
          { label: t('events.reason'), cell: reasonText },
          { label: t('events.door'), cell: (e) => e.door_name || '' },
          { label: t('events.terminal'), cell: (e) => (e.device_id ? link(`#/terminals/${e.device_id}`, e.device_name || `#${e.device_id}`) : '') },
          { label: t('events.site'), cell: (e) => e.site_name || nameOf(sites, e.site_id) },
          { label: t('events.person'), cell: who },
          { label: t('people.card'), cell: (e) => (e.card ? h('span', { class: 'mono' }, e.card) : '') },
        ],
        rows: items,
        empty: t('events.none'),
      }));
    },
  });

  async function apply() {
    clearErrors(form);
    for (const k of Object.keys(filters)) filters[k] = form.elements[k].value.trim();
    const q = await query(form).catch((e) => { showErrors(form, e); return null; });
    if (!q) {
      replace(results, h('p', { class: 'empty' }, t('events.none')));
      return false;
    }
    current = q;
    await p.first();
    return true;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (await apply()) announce(t('events.filtered'));
  });

  const exportBtn = (format) => button(t(`events.export_${format}`), (e) => busy(e.currentTarget, async () => {
    progress.textContent = t('events.exporting');
    try {
      const { filename } = await download('/api/v1/events/export', {
        query: { ...current, format }, fallbackName: `events.${format}`,
        onProgress: (n) => { progress.textContent = t('events.exporting_bytes', { n: number(n) }); },
      });
      progress.textContent = t('events.exported', { name: filename });
      announce(t('events.exported', { name: filename }));
    } catch (err) {
      progress.textContent = '';
      alertMessage(errorText(err));
    }
  }), { attrs: { id: `events-export-${format}` } });

  add(ctx.main, pageHead(t('nav.events'), exportBtn('csv'), exportBtn('xlsx')),
    h('p', { class: 'muted' }, t('events.intro')),
    h('p', { class: 'hint' }, t('audit.zone', { zone: zone() })),
    form, progress, results, p.el);
  if (!(await apply())) replace(results, h('p', { class: 'empty' }, t('events.none')));
}
