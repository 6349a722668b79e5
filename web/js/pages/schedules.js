// Schedules as a weekly grid: a row per weekday and one for holidays, each
// with as many windows as it needs, drawn on a 24-hour bar as they are
// typed. Windows are in the door's local time; an end not after the start
// runs past midnight (22:00-06:00), and 24:00 ends a day.

import { add, h, svg, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import {
  can, pageHead, field, button, announce, showErrors, clearErrors, intOrNull, link, notice,
} from '../ui.js';
import { lookup, nameOf, invalidate } from '../store.js';
import { go } from '../shell.js';
import { crudPage } from './crud.js';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'holiday'];
const TIME = /^([01][0-9]|2[0-4]):[0-5][0-9]$/;

function minutes(s) {
  const [hh, mm] = s.split(':').map(Number);
  return hh * 60 + mm;
}

export function summary(windows) {
  const byDay = new Map();
  for (const w of windows) {
    if (!byDay.has(w.day)) byDay.set(w.day, []);
    byDay.get(w.day).push(`${w.start}–${w.end}`);
  }
  return DAYS.filter((d) => byDay.has(d)).map((d) => `${t(`day.short.${d}`)} ${byDay.get(d).join(', ')}`).join('; ');
}

export async function list(ctx) {
  const holidaySets = await lookup('holidays');
  return crudPage(ctx, {
    id: 'schedules', title: t('nav.schedules'), path: '/api/v1/schedules', kind: 'schedules',
    intro: t('schedules.intro'),
    newLabel: t('schedules.new'), newHref: '#/access/schedules/new',
    editLabel: (s) => t('schedules.edit', { name: s.name }), deleteLabel: (s) => t('schedules.delete', { name: s.name }),
    detailHref: (s) => `#/access/schedules/${s.id}`,
    columns: () => [
      { label: t('schedules.name'), cell: (s) => link(`#/access/schedules/${s.id}`, s.name) },
      { label: t('schedules.windows'), cell: (s) => summary(s.windows) || t('schedules.never') },
      { label: t('schedules.holiday_set'), cell: (s) => (s.holiday_set_id ? nameOf(holidaySets, s.holiday_set_id) : t('common.none')) },
    ],
    fields: () => [],
    body: () => ({}),
  });
}

/* The 24-hour bar of one day. */
function drawBar(bar, rows) {
  replace(bar);
  bar.append(svg('rect', { class: 'bg', x: 0, y: 6, width: 240, height: 14 }));
  for (const row of rows) {
    const s = row.querySelector('[data-part=start]').value.trim();
    const e = row.querySelector('[data-part=end]').value.trim();
    if (!TIME.test(s) || !TIME.test(e)) continue;
    const a = minutes(s) / 6;
    const b = minutes(e) / 6;
    if (b > a) bar.append(svg('rect', { class: 'win', x: a, y: 6, width: b - a, height: 14 }));
    else if (b < a) {
      bar.append(svg('rect', { class: 'win over', x: a, y: 6, width: 240 - a, height: 14 }));
      bar.append(svg('rect', { class: 'win over', x: 0, y: 6, width: b, height: 14 }));
    }
  }
  for (const hour of [0, 6, 12, 18, 24]) {
    const x = hour * 10;
    bar.append(svg('line', { class: 'tick', x1: x, x2: x, y1: 4, y2: 22 }),
      svg('text', { x: Math.min(Math.max(x, 6), 234), y: 29, 'text-anchor': 'middle' }, String(hour)));
  }
}

function windowRow(day, w, onChange, canEdit) {
  const label = t(`day.${day}`);
  const row = h('div', { class: 'win-row', dataset: { day } });
  const start = h('input', { type: 'text', value: w.start, dataset: { part: 'start' }, placeholder: '09:00', inputmode: 'numeric', maxlength: 5, pattern: '[0-2][0-9]:[0-5][0-9]', autocomplete: 'off', disabled: !canEdit });
  const end = h('input', { type: 'text', value: w.end, dataset: { part: 'end' }, placeholder: '18:00', inputmode: 'numeric', maxlength: 5, pattern: '[0-2][0-9]:[0-5][0-9]', autocomplete: 'off', disabled: !canEdit });
  const remove = canEdit ? button(t('common.remove'), () => { row.remove(); onChange(); }, { kind: 'small' }) : null;
  add(row, start, h('span', { 'aria-hidden': 'true' }, '–'), end, remove, h('p', { class: 'error' }));
  // Labels that say which day and which window, for screen readers.
  const relabel = () => {
    const n = [...row.parentElement.children].indexOf(row) + 1;
    start.setAttribute('aria-label', t('schedules.start_of', { day: label, n }));
    end.setAttribute('aria-label', t('schedules.end_of', { day: label, n }));
    if (remove) remove.setAttribute('aria-label', t('schedules.remove_of', { day: label, n }));
  };
  row.relabel = relabel;
  start.addEventListener('input', onChange);
  end.addEventListener('input', onChange);
  return row;
}

export async function edit(ctx) {
  const isNew = ctx.params.id === 'new';
  const [sched, holidaySets] = await Promise.all([
    isNew ? null : api('GET', `/api/v1/schedules/${Number(ctx.params.id)}`),
    lookup('holidays'),
  ]);
  const canEdit = can(isNew ? 'POST' : 'PATCH', isNew ? '/api/v1/schedules' : '/api/v1/schedules/{id}');
  const windows = sched ? sched.windows : [];
  const lists = {};
  const bars = {};
  const refresh = (day) => {
    const rows = [...lists[day].children];
    rows.forEach((r) => r.relabel());
    drawBar(bars[day], rows);
  };
  const addWindow = (day, w = { start: '', end: '' }) => {
    const row = windowRow(day, w, () => refresh(day), canEdit);
    lists[day].append(row);
    refresh(day);
    return row;
  };

  const body = h('tbody');
  for (const day of DAYS) {
    lists[day] = h('div', { class: 'win-list', id: `win-${day}` });
    bars[day] = svg('svg', { viewBox: '0 0 240 30', role: 'img', 'aria-label': t('schedules.bar_of', { day: t(`day.${day}`) }), preserveAspectRatio: 'none' });
    const tools = [];
    if (canEdit) {
      tools.push(button(t('schedules.add_window'), () => addWindow(day).querySelector('input').focus(), { kind: 'small', attrs: { 'aria-label': t('schedules.add_window_to', { day: t(`day.${day}`) }), dataset: { add: day } } }));
      if (day === 'mon') {
        tools.push(button(t('schedules.copy_weekdays'), () => {
          const src = [...lists.mon.children].map((r) => ({ start: r.querySelector('[data-part=start]').value, end: r.querySelector('[data-part=end]').value }));
          for (const d of ['tue', 'wed', 'thu', 'fri']) {
            replace(lists[d]);
            src.forEach((w) => addWindow(d, w));
            refresh(d);
          }
          announce(t('schedules.copied'));
        }, { kind: 'small' }));
      }
    }
    body.append(h('tr', { dataset: { day } },
      h('th', { scope: 'row' }, t(`day.${day}`), day === 'holiday' ? h('p', { class: 'hint' }, t('schedules.holiday_row')) : null),
      h('td', { class: 'timeline' }, bars[day]),
      h('td', null, lists[day], h('div', { class: 'row' }, tools))));
  }
  for (const day of DAYS) {
    for (const w of windows.filter((x) => x.day === day)) addWindow(day, w);
    refresh(day);
  }

  const form = h('form', { novalidate: true, id: 'schedule-form' },
    h('div', { class: 'fields' },
      field({ name: 'name', label: t('schedules.name'), required: true, value: sched && sched.name, attrs: { disabled: !canEdit } }),
      field({ name: 'holiday_set_id', label: t('schedules.holiday_set'), type: 'select', value: sched && sched.holiday_set_id ? String(sched.holiday_set_id) : '',
        options: [{ value: '', label: t('common.none') }, ...holidaySets.items.map((s) => ({ value: String(s.id), label: s.name }))],
        hint: t('schedules.holiday_set_hint'), attrs: { disabled: !canEdit } })),
    h('h2', null, t('schedules.week')),
    h('p', { class: 'hint' }, t('schedules.grid_hint')),
    h('div', { class: 'table-wrap', dataset: { field: 'windows' } },
      h('table', { class: 'sched' },
        h('caption', { class: 'sr-only' }, t('schedules.week')),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('schedules.day')), h('th', { scope: 'col' }, t('schedules.timeline')), h('th', { scope: 'col' }, t('schedules.windows')))),
        body),
      h('p', { class: 'error' })),
    h('p', { class: 'form-error', role: 'alert' }),
    canEdit ? h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, isNew ? t('common.create') : t('common.save'))) : null);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const out = [];
    const local = [];
    for (const day of DAYS) {
      for (const row of lists[day].children) {
        const start = row.querySelector('[data-part=start]').value.trim();
        const end = row.querySelector('[data-part=end]').value.trim();
        if (!start && !end) continue;
        row.dataset.field = `windows[${out.length}]`;
        if (!TIME.test(start) || !TIME.test(end)) local.push({ field: row.dataset.field, reason: 'times are HH:MM' });
        out.push({ day, start, end });
      }
    }
    if (local.length) {
      showErrors(form, { fields: local });
      return;
    }
    const reqBody = { name: form.elements.name.value.trim(), holiday_set_id: intOrNull(form.elements.holiday_set_id.value), windows: out };
    try {
      const saved = isNew ? await api('POST', '/api/v1/schedules', { body: reqBody })
        : await api('PATCH', `/api/v1/schedules/${sched.id}`, { body: reqBody, version: sched.version });
      invalidate('schedules');
      announce(isNew ? t('schedules.created', { name: saved.name }) : t('common.saved'));
      go(`#/access/schedules/${saved.id}`);
    } catch (err) {
      showErrors(form, err);
    }
  });

  add(ctx.main, h('p', null, link('#/access/schedules', t('schedules.back'))),
    pageHead(sched ? sched.name : t('schedules.new')),
    !canEdit ? notice(t('common.read_only')) : null,
    h('section', { class: 'card' }, form));
}
