// Access rules: sites, doors (with their terminal), holiday sets, access
// groups (and their members), access levels, and the what-if check.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { fromLocal, toLocalInput, utc, zone } from '../fmt.js';
import {
  can, pageHead, field, checkGroup, checkedValues, values, intOrNull, table, pager, button, busy, announce,
  notice, showErrors, clearErrors, link,
} from '../ui.js';
import { lookup, nameOf, invalidate } from '../store.js';
import { sitesChanged, go } from '../shell.js';
import { crudPage } from './crud.js';
import { personStatus } from './people.js';

const opt = (items, none) => [...(none ? [{ value: '', label: none }] : []), ...items.map((i) => ({ value: String(i.id), label: i.name }))];

function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC', 'Asia/Tokyo', 'Europe/London', 'Europe/Paris', 'America/New_York'];
  }
}

/* --- sites ----------------------------------------------------------------------------------- */
export function sites(ctx) {
  return crudPage(ctx, {
    id: 'sites', title: t('nav.sites'), path: '/api/v1/sites', kind: 'sites',
    intro: t('sites.intro'),
    newLabel: t('sites.new'), editLabel: (s) => t('sites.edit', { name: s.name }), deleteLabel: (s) => t('sites.delete', { name: s.name }),
    after: sitesChanged,
    columns: () => [
      { label: t('sites.name'), cell: (s) => s.name },
      { label: t('sites.timezone'), cell: (s) => s.timezone },
    ],
    fields: (s) => [
      field({ name: 'name', label: t('sites.name'), required: true, value: s && s.name }),
      field({ name: 'timezone', label: t('sites.timezone'), type: 'select', required: true, value: (s && s.timezone) || zone(),
        options: timeZones().map((z) => ({ value: z, label: z })) }),
    ],
    body: (form) => ({ name: form.elements.name.value.trim(), timezone: form.elements.timezone.value }),
  });
}

/* --- doors ------------------------------------------------------------------------------------ */
export async function doors(ctx) {
  const [siteList, devices] = await Promise.all([lookup('sites'), lookup('devices')]);
  let siteFilter = '';
  const filter = field({ name: 'site_filter', label: t('doors.filter_site'), type: 'select', value: '', options: opt(siteList.items, t('common.all')) });
  const before = h('div', { class: 'search' }, filter);
  return crudPage(ctx, {
    id: 'doors', title: t('nav.doors'), path: '/api/v1/doors', kind: 'doors',
    newLabel: t('doors.new'), editLabel: (d) => t('doors.edit', { name: d.name }), deleteLabel: (d) => t('doors.delete', { name: d.name }),
    before,
    query: () => ({ site_id: siteFilter }),
    onFilter: (reload) => filter.querySelector('select').addEventListener('change', (e) => { siteFilter = e.target.value; reload(); }),
    after: () => invalidate('devices'),
    columns: () => [
      { label: t('doors.name'), cell: (d) => d.name },
      { label: t('doors.site'), cell: (d) => nameOf(siteList, d.site_id) },
      { label: t('doors.terminal'), cell: (d) => (d.terminal_id ? link(`#/terminals/${d.terminal_id}`, nameOf(devices, d.terminal_id)) : t('common.none')) },
      { label: t('doors.unlock_seconds'), cell: (d) => String(d.unlock_seconds), num: true },
      { label: t('doors.held_open_seconds'), cell: (d) => String(d.held_open_seconds), num: true },
      { label: t('doors.output'), cell: (d) => (d.output == null ? '—' : String(d.output)), num: true },
    ],
    fields: async (d) => {
      const devs = await lookup('devices');
      return [
        field({ name: 'site_id', label: t('doors.site'), type: 'select', required: true, value: d ? String(d.site_id) : String(siteList.items[0]?.id ?? ''), options: opt(siteList.items) }),
        field({ name: 'name', label: t('doors.name'), required: true, value: d && d.name }),
        field({ name: 'unlock_seconds', label: t('doors.unlock_seconds'), type: 'number', value: d ? d.unlock_seconds : 5, attrs: { min: 1, max: 3600 } }),
        field({ name: 'held_open_seconds', label: t('doors.held_open_seconds'), type: 'number', value: d ? d.held_open_seconds : 30, attrs: { min: 1, max: 86400 } }),
        field({ name: 'output', label: t('doors.output'), type: 'number', value: d && d.output, hint: t('doors.output_hint'), attrs: { min: 1, max: 64 } }),
        field({ name: 'terminal_id', label: t('doors.terminal'), type: 'select', value: d && d.terminal_id ? String(d.terminal_id) : '', options: opt(devs.items, t('common.none')), hint: t('doors.terminal_hint') }),
      ];
    },
    body: (form) => {
      const v = values(form);
      return {
        site_id: Number(v.site_id), name: v.name.trim(),
        unlock_seconds: Number(v.unlock_seconds), held_open_seconds: Number(v.held_open_seconds),
        output: intOrNull(v.output), terminal_id: intOrNull(v.terminal_id),
      };
    },
  });
}

/* --- holiday sets --------------------------------------------------------------------------- */
export function holidays(ctx) {
  return crudPage(ctx, {
    id: 'holidays', title: t('nav.holidays'), path: '/api/v1/holidays', kind: 'holidays',
    intro: t('holidays.intro'),
    newLabel: t('holidays.new'), newHref: '#/access/holidays/new',
    editLabel: (s) => t('holidays.edit', { name: s.name }), deleteLabel: (s) => t('holidays.delete', { name: s.name }),
    detailHref: (s) => `#/access/holidays/${s.id}`,
    columns: () => [
      { label: t('holidays.name'), cell: (s) => link(`#/access/holidays/${s.id}`, s.name) },
      { label: t('holidays.dates'), cell: (s) => String(s.dates.length), num: true },
      { label: t('holidays.list'), cell: (s) => s.dates.slice(0, 4).map((d) => `${d.date} ${d.name}`).join(', ') + (s.dates.length > 4 ? ' …' : '') },
    ],
    fields: () => [],
    body: () => ({}),
  });
}

export async function holidaySet(ctx) {
  const isNew = ctx.params.id === 'new';
  const set = isNew ? null : await api('GET', `/api/v1/holidays/${Number(ctx.params.id)}`);
  const canSave = can(isNew ? 'POST' : 'PATCH', isNew ? '/api/v1/holidays' : '/api/v1/holidays/{id}');
  const rows = h('div', { class: 'win-list', id: 'holiday-rows', dataset: { field: 'dates' } });
  const addRow = (d = { date: '', name: '' }) => {
    const row = h('div', { class: 'win-row' },
      h('input', { type: 'date', value: d.date, 'aria-label': t('holidays.date'), dataset: { part: 'date' } }),
      h('input', { type: 'text', value: d.name, 'aria-label': t('holidays.day_name'), dataset: { part: 'name' } }),
      button(t('common.remove'), () => { row.remove(); }, { kind: 'small' }),
      h('p', { class: 'error' }));
    rows.append(row);
    return row;
  };
  (set ? set.dates : []).forEach((d) => addRow(d));
  if (!set) addRow();
  const form = h('form', { novalidate: true, id: 'holiday-form' },
    h('div', { class: 'fields' }, field({ name: 'name', label: t('holidays.name'), required: true, value: set && set.name })),
    h('fieldset', { class: 'field wide' }, h('legend', null, t('holidays.dates')), rows,
      h('div', { class: 'row' }, button(t('holidays.add_date'), () => addRow().querySelector('input').focus(), { kind: 'small' })),
      h('p', { class: 'error' })),
    h('p', { class: 'form-error', role: 'alert' }),
    canSave ? h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, isNew ? t('common.create') : t('common.save'))) : null);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const list = [...rows.children].map((r) => ({
      date: r.querySelector('[data-part=date]').value, name: r.querySelector('[data-part=name]').value.trim(), row: r,
    })).filter((d) => d.date || d.name);
    list.forEach((d, i) => { d.row.dataset.field = `dates[${i}]`; });
    const body = { name: form.elements.name.value.trim(), dates: list.map(({ date, name }) => ({ date, name })) };
    try {
      const saved = isNew ? await api('POST', '/api/v1/holidays', { body })
        : await api('PATCH', `/api/v1/holidays/${set.id}`, { body, version: set.version });
      invalidate('holidays');
      announce(isNew ? t('common.created') : t('common.saved'));
      go(`#/access/holidays/${saved.id}`);
    } catch (err) {
      showErrors(form, err);
    }
  });
  add(ctx.main, h('p', null, link('#/access/holidays', t('holidays.back'))),
    pageHead(set ? set.name : t('holidays.new')), h('section', { class: 'card' }, form));
}

/* --- groups --------------------------------------------------------------------------------- */
export function groups(ctx) {
  return crudPage(ctx, {
    id: 'groups', title: t('nav.groups'), path: '/api/v1/access-groups', kind: 'groups',
    intro: t('groups.intro'),
    newLabel: t('groups.new'), editLabel: (g) => t('groups.edit', { name: g.name }), deleteLabel: (g) => t('groups.delete', { name: g.name }),
    columns: () => [
      { label: t('groups.name'), cell: (g) => link(`#/access/groups/${g.id}`, g.name) },
      { label: t('groups.description'), cell: (g) => g.description },
      { label: t('groups.members'), cell: (g) => String(g.member_count), num: true },
    ],
    fields: (g) => [
      field({ name: 'name', label: t('groups.name'), required: true, value: g && g.name }),
      field({ name: 'description', label: t('groups.description'), type: 'textarea', value: g && g.description, wide: true }),
    ],
    body: (form) => ({ name: form.elements.name.value.trim(), description: form.elements.description.value.trim() }),
  });
}

/** Find one person by an exact e-mail, employee number or card. */
async function findPerson(by, value) {
  const page = await api('GET', '/api/v1/people', { query: { [by]: value, limit: 2 } });
  return page.items[0] || null;
}

export async function group(ctx) {
  const id = Number(ctx.params.id);
  const g = await api('GET', `/api/v1/access-groups/${id}`);
  const members = h('div', { id: 'group-members' });
  const canMembers = can('PUT', '/api/v1/access-groups/{id}/members/{person_id}');
  const p = pager({
    label: t('groups.members'),
    load: (cursor) => api('GET', '/api/v1/people', { query: { group: id, limit: 50, cursor } }),
    render: (items) => replace(members, table({
      caption: t('groups.members'),
      columns: [
        { label: t('people.name'), cell: (r) => link(`#/people/${r.id}`, r.name) },
        { label: t('people.employee_no'), cell: (r) => r.employee_no || '' },
        { label: t('people.status'), cell: (r) => personStatus(r.status) },
        ...(canMembers ? [{
          label: t('common.actions'), actions: true,
          cell: (r) => button(t('groups.remove_member'), (e) => busy(e.currentTarget, async () => {
            await api('DELETE', `/api/v1/access-groups/${id}/members/${r.id}`);
            invalidate('groups');
            announce(t('groups.member_removed', { name: r.name }));
            await p.reload();
          }), { kind: 'small', attrs: { 'aria-label': t('groups.remove_member_named', { name: r.name }) } }),
        }] : []),
      ],
      rows: items,
      empty: t('groups.no_members'),
    })),
  });
  let addForm = null;
  if (canMembers) {
    addForm = h('form', { class: 'search', id: 'member-form', 'aria-label': t('groups.add_member') },
      field({ name: 'by', label: t('people.find_by'), type: 'select', value: 'email',
        options: [['email', t('people.email')], ['employee_no', t('people.employee_no')], ['card', t('people.card')]].map(([value, label]) => ({ value, label })) }),
      field({ name: 'value', label: t('people.exact_value'), required: true }),
      h('button', { type: 'submit', class: 'primary' }, t('groups.add_member')),
      h('p', { class: 'form-error', role: 'alert' }));
    addForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(addForm);
      try {
        const person = await findPerson(addForm.elements.by.value, addForm.elements.value.value.trim());
        if (!person) {
          showErrors(addForm, { fields: [{ field: 'value', reason: t('groups.nobody') }] });
          return;
        }
        await api('PUT', `/api/v1/access-groups/${id}/members/${person.id}`);
        invalidate('groups');
        addForm.elements.value.value = '';
        announce(t('groups.member_added', { name: person.name }));
        await p.first();
      } catch (err) {
        showErrors(addForm, err);
      }
    });
  }
  add(ctx.main, h('p', null, link('#/access/groups', t('groups.back'))),
    pageHead(g.name),
    g.description ? h('p', null, g.description) : null,
    h('section', { class: 'card', 'aria-labelledby': 'members-title' },
      h('h2', { id: 'members-title' }, t('groups.members_n', { n: g.member_count })),
      addForm, members, p.el));
  await p.first();
}

/* --- access levels ---------------------------------------------------------------------------- */
export async function levels(ctx) {
  const [groupList, schedules, doorList, siteList] = await Promise.all([lookup('groups'), lookup('schedules'), lookup('doors'), lookup('sites')]);
  const doorLabel = (id) => {
    const d = doorList.byId.get(id);
    return d ? `${nameOf(siteList, d.site_id)} / ${d.name}` : `#${id}`;
  };
  return crudPage(ctx, {
    id: 'levels', title: t('nav.levels'), path: '/api/v1/access-levels', kind: 'levels',
    intro: t('levels.intro'),
    newLabel: t('levels.new'), editLabel: (l) => t('levels.edit', { name: l.name }), deleteLabel: (l) => t('levels.delete', { name: l.name }),
    columns: () => [
      { label: t('levels.name'), cell: (l) => l.name },
      { label: t('levels.group'), cell: (l) => link(`#/access/groups/${l.group_id}`, nameOf(groupList, l.group_id)) },
      { label: t('levels.schedule'), cell: (l) => link(`#/access/schedules/${l.schedule_id}`, nameOf(schedules, l.schedule_id)) },
      { label: t('levels.doors'), cell: (l) => l.door_ids.map(doorLabel).join(', ') || t('common.none') },
    ],
    fields: async (l) => {
      const [gs, ss, ds] = await Promise.all([lookup('groups'), lookup('schedules'), lookup('doors')]);
      return [
        field({ name: 'name', label: t('levels.name'), required: true, value: l && l.name }),
        field({ name: 'group_id', label: t('levels.group'), type: 'select', required: true, value: l ? String(l.group_id) : '', options: opt(gs.items, t('common.choose')) }),
        field({ name: 'schedule_id', label: t('levels.schedule'), type: 'select', required: true, value: l ? String(l.schedule_id) : '', options: opt(ss.items, t('common.choose')) }),
        checkGroup({ name: 'door_ids', legend: t('levels.doors'), options: ds.items.map((d) => ({ value: d.id, label: doorLabel(d.id) })), checked: new Set(l ? l.door_ids : []), hint: t('levels.no_doors') }),
      ];
    },
    body: (form) => ({
      name: form.elements.name.value.trim(),
      group_id: intOrNull(form.elements.group_id.value),
      schedule_id: intOrNull(form.elements.schedule_id.value),
      door_ids: checkedValues(form, 'door_ids').map(Number),
    }),
  });
}

/* --- what-if ------------------------------------------------------------------------------------ */
export async function whatIf(ctx) {
  const [doorList, siteList, levelList] = await Promise.all([lookup('doors'), lookup('sites'), lookup('levels')]);
  const siteOf = (doorId) => siteList.byId.get((doorList.byId.get(Number(doorId)) || {}).site_id);
  const result = h('div', { id: 'whatif-result', 'aria-live': 'polite' });
  const zoneNote = h('p', { class: 'hint', id: 'whatif-zone' });
  const form = h('form', { novalidate: true, id: 'whatif-form', class: 'card' },
    h('div', { class: 'fields' },
      field({ name: 'card', label: t('whatif.card'), required: true, attrs: { inputmode: 'numeric' } }),
      field({ name: 'door_id', label: t('whatif.door'), type: 'select', required: true,
        value: doorList.items[0] ? String(doorList.items[0].id) : '',
        options: doorList.items.map((d) => ({ value: String(d.id), label: `${nameOf(siteList, d.site_id)} / ${d.name}` })) }),
      field({ name: 'when', label: t('whatif.when'), type: 'select', value: 'now', options: [{ value: 'now', label: t('whatif.now') }, { value: 'at', label: t('whatif.at') }] }),
      field({ name: 'at', label: t('whatif.time'), type: 'datetime-local', attrs: { disabled: true } })),
    zoneNote,
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('whatif.check'))));
  const siteZone = () => (siteOf(form.elements.door_id.value) || {}).timezone || zone();
  const updateZone = () => { zoneNote.textContent = t('whatif.zone', { zone: siteZone() }); };
  form.elements.when.addEventListener('change', () => {
    form.elements.at.disabled = form.elements.when.value === 'now';
    if (!form.elements.at.disabled && !form.elements.at.value) form.elements.at.value = toLocalInput(new Date(), siteZone());
  });
  form.elements.door_id.addEventListener('change', updateZone);
  updateZone();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const body = { card: form.elements.card.value.trim(), door_id: intOrNull(form.elements.door_id.value) };
    if (form.elements.when.value === 'at') {
      const at = fromLocal(form.elements.at.value, siteZone());
      if (!at) { showErrors(form, { fields: [{ field: 'at', reason: 'is required' }] }); return; }
      body.at = utc(at);
    }
    try {
      const d = await api('POST', '/api/v1/decisions', { body });
      const level = d.level_id ? levelList.byId.get(d.level_id) : null;
      const tz = siteZone();
      replace(result, h('section', { class: `card notice ${d.grant ? 'ok' : 'bad'}`, dataset: { grant: String(d.grant), reason: d.reason } },
        h('h2', null, d.grant ? t('whatif.granted') : t('whatif.refused')),
        h('p', { class: 'reason' }, t(`decision.${d.reason}`)),
        h('dl', { class: 'facts' },
          h('dt', null, t('whatif.evaluated')), h('dd', null, `${new Intl.DateTimeFormat(document.documentElement.lang === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: tz, dateStyle: 'full', timeStyle: 'short' }).format(new Date(d.at))} (${tz})`),
          h('dt', null, t('whatif.person')), h('dd', null, d.person_id ? link(`#/people/${d.person_id}`, t('whatif.person_n', { id: d.person_id })) : t('whatif.unknown')),
          h('dt', null, t('whatif.level')), h('dd', null, level ? level.name : d.level_id ? `#${d.level_id}` : '—'))));
      announce(d.grant ? t('whatif.granted') : `${t('whatif.refused')}: ${t(`decision.${d.reason}`)}`);
    } catch (err) {
      showErrors(form, err);
    }
  });
  add(ctx.main, pageHead(t('nav.whatif')), h('p', { class: 'muted' }, t('whatif.intro')),
    doorList.items.length ? form : notice(t('whatif.no_doors'), 'warn'), result);
}

