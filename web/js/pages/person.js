// One person: details (changed with If-Match on the version read), photo
// with preview, credentials, group membership, the access report, and
// erasure with a confirmation that lists what will be destroyed.

import { add, h, replace, saveBlob } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { civil, civilFromInput, civilToInput, bytes, dateTime } from '../fmt.js';
import {
  can, pageHead, field, checkGroup, checkedValues, showErrors, clearErrors, values, orNull, table, button, busy,
  announce, notice, confirmDialog, openDialog, showOnce, errorText, alertMessage, badge, link,
} from '../ui.js';
import { lookup, nameOf } from '../store.js';
import { go } from '../shell.js';
import { personStatus } from './people.js';

const TEXT_FIELDS = ['name', 'email', 'phone', 'employee_no', 'notes'];
const KINDS = ['card', 'pin', 'face', 'fingerprint', 'mobile'];
const CRED_STATUSES = ['active', 'suspended', 'lost', 'revoked'];

function detailsForm(person, groups, onSaved) {
  const p = person || {};
  const form = h('form', { novalidate: true, id: 'person-form', 'aria-label': t('person.details') },
    h('div', { class: 'fields' },
      field({ name: 'name', label: t('people.name'), required: true, value: p.name, autocomplete: 'off' }),
      field({ name: 'email', label: t('people.email'), type: 'email', value: p.email }),
      field({ name: 'phone', label: t('people.phone'), type: 'tel', value: p.phone }),
      field({ name: 'employee_no', label: t('people.employee_no'), value: p.employee_no }),
      field({ name: 'status', label: t('people.status'), type: 'select', value: p.status || 'active',
        options: ['active', 'suspended'].map((s) => ({ value: s, label: t(`people.status.${s}`) })) }),
      field({ name: 'valid_from', label: t('people.valid_from'), type: 'datetime-local', value: civilToInput(p.valid_from), hint: t('people.valid_hint'), attrs: { step: 1 } }),
      field({ name: 'valid_until', label: t('people.valid_until'), type: 'datetime-local', value: civilToInput(p.valid_until), attrs: { step: 1 } }),
      field({ name: 'notes', label: t('people.notes'), type: 'textarea', value: p.notes, wide: true }),
      checkGroup({ name: 'group_ids', legend: t('people.groups'), options: groups.items.map((g) => ({ value: g.id, label: g.name })), checked: new Set(p.group_ids || []), hint: t('people.no_groups_yet') })),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, person ? t('common.save') : t('people.create'))));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const body = {};
    for (const k of TEXT_FIELDS) body[k] = k === 'name' ? v.name.trim() : orNull(v[k]);
    body.status = v.status;
    body.valid_from = civilFromInput(v.valid_from);
    body.valid_until = civilFromInput(v.valid_until);
    body.group_ids = checkedValues(form, 'group_ids').map(Number);
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      if (!person) {
        for (const k of Object.keys(body)) if (body[k] == null) delete body[k];
        const created = await api('POST', '/api/v1/people', { body });
        announce(t('person.created', { name: created.name }));
        go(`#/people/${created.id}`);
        return;
      }
      // Only what changed: the audit log records each correction.
      const change = {};
      for (const [k, val] of Object.entries(body)) {
        const before = k === 'group_ids' ? [...person.group_ids].sort((a, b) => a - b).join(',') : person[k] ?? null;
        const after = k === 'group_ids' ? [...val].sort((a, b) => a - b).join(',') : val;
        if (before !== after) change[k] = val;
      }
      if (!Object.keys(change).length) {
        announce(t('common.nothing_changed'));
        return;
      }
      const saved = await api('PATCH', `/api/v1/people/${person.id}`, { body: change, version: person.version });
      announce(t('common.saved'));
      onSaved(saved);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'precondition_failed') {
        showErrors(form, err);
        form.querySelector('.form-error').append(' ', button(t('common.reload'), () => go(location.hash), { kind: 'link' }));
      } else {
        showErrors(form, err);
      }
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function readOnlyDetails(p, groups) {
  const row = (k, v) => [h('dt', null, k), h('dd', null, v || '—')];
  return h('dl', { class: 'facts' },
    row(t('people.email'), p.email), row(t('people.phone'), p.phone), row(t('people.employee_no'), p.employee_no),
    row(t('people.status'), personStatus(p.status)), row(t('people.valid_from'), civil(p.valid_from)),
    row(t('people.valid_until'), civil(p.valid_until)), row(t('people.notes'), p.notes),
    row(t('people.groups'), p.group_ids.map((g) => nameOf(groups, g)).join(', ')));
}

/* --- photo ------------------------------------------------------------------------------------ */
function photoCard(person, ctx, onChange) {
  const urls = [];
  const url = (blob) => { const u = URL.createObjectURL(blob); urls.push(u); return u; };
  ctx.onLeave(() => urls.forEach((u) => URL.revokeObjectURL(u)));
  const img = h('img', { class: 'photo', id: 'person-photo', alt: t('person.photo_of', { name: person.name }), hidden: true });
  const none = h('div', { class: 'photo muted', id: 'person-no-photo' }, t('person.no_photo'));
  const box = h('section', { class: 'card', 'aria-labelledby': 'photo-title' }, h('h2', { id: 'photo-title' }, t('person.photo')));
  const show = h('div', { class: 'photo-box' }, img, none);
  box.append(show);

  async function loadPhoto() {
    img.hidden = true;
    none.hidden = false;
    if (!person.has_photo || !can('GET', '/api/v1/people/{id}/photo')) {
      none.textContent = person.has_photo ? t('person.photo_hidden') : t('person.no_photo');
      return;
    }
    try {
      const res = await api('GET', `/api/v1/people/${person.id}/photo`, { raw: true });
      img.src = url(await res.blob());
      img.hidden = false;
      none.hidden = true;
    } catch (e) {
      none.textContent = errorText(e);
    }
  }

  if (can('PUT', '/api/v1/people/{id}/photo')) {
    const input = h('input', { type: 'file', id: 'photo-file', accept: 'image/jpeg,image/png' });
    const preview = h('img', { class: 'photo', id: 'photo-preview', alt: t('person.preview') });
    const previewBox = h('div', { hidden: true }, h('p', { class: 'hint' }, t('person.preview')), preview);
    const upload = button(t('person.upload_photo'), (e) => busy(e.currentTarget, async () => {
      const file = input.files[0];
      if (!file) return;
      await api('PUT', `/api/v1/people/${person.id}/photo`, { body: file, contentType: file.type || 'application/octet-stream' });
      person.has_photo = true;
      input.value = '';
      previewBox.hidden = true;
      upload.disabled = true;
      announce(t('person.photo_saved'));
      await loadPhoto();
      onChange();
    }), { kind: 'primary', attrs: { id: 'photo-upload', disabled: true } });
    input.addEventListener('change', () => {
      const file = input.files[0];
      if (!file) { previewBox.hidden = true; upload.disabled = true; return; }
      if (!/^image\/(jpeg|png)$/.test(file.type)) {
        alertMessage(t('person.photo_type'));
        input.value = '';
        return;
      }
      preview.src = url(file);
      previewBox.hidden = false;
      upload.disabled = false;
      announce(t('person.preview_ready', { size: bytes(file.size) }));
    });
    const remove = button(t('person.remove_photo'), async (e) => {
      if (!await confirmDialog({ title: t('person.remove_photo'), body: h('p', null, t('person.remove_photo_q')), confirmLabel: t('common.remove'), danger: true })) return;
      await busy(e.currentTarget, async () => {
        await api('DELETE', `/api/v1/people/${person.id}/photo`);
        person.has_photo = false;
        announce(t('person.photo_removed'));
        await loadPhoto();
        onChange();
      });
    });
    show.append(previewBox);
    box.append(h('div', { class: 'field' }, h('label', { for: 'photo-file' }, t('person.choose_photo')), input,
      h('p', { class: 'hint' }, t('person.photo_hint'))), h('div', { class: 'form-actions' }, upload, person.has_photo ? remove : null));
  }
  return { el: box, load: loadPhoto };
}

/* --- credentials ------------------------------------------------------------------------------- */
function enrolment(creds) {
  const of = (k) => creds.filter((c) => c.kind === k);
  const state = (k) => {
    const list = of(k);
    const active = list.filter((c) => c.status === 'active').length;
    if (!list.length) return badge(k === 'face' || k === 'fingerprint' ? t('cred.not_enrolled') : t('cred.none'));
    return badge(k === 'face' || k === 'fingerprint' ? t('cred.enrolled_n', { n: active }) : t('cred.active_n', { n: active }), active ? 'ok' : 'warn');
  };
  return h('dl', { class: 'facts', id: 'enrolment' }, KINDS.map((k) => [h('dt', null, t(`cred.kind.${k}`)), h('dd', { dataset: { kind: k } }, state(k))]));
}

function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.addEventListener('load', () => resolve(String(r.result).replace(/^data:[^,]*,/, '')));
    r.addEventListener('error', () => reject(r.error));
    r.readAsDataURL(file);
  });
}

function addCredentialForm(person, onAdded) {
  const secretBox = h('div');
  const kindSel = field({ name: 'kind', label: t('cred.kind'), type: 'select', value: 'card',
    options: KINDS.map((k) => ({ value: k, label: t(`cred.kind.${k}`) })) });
  const form = h('form', { novalidate: true, id: 'credential-form', 'aria-label': t('cred.add') },
    h('div', { class: 'fields' }, kindSel, secretBox,
      field({ name: 'label', label: t('cred.label') }),
      field({ name: 'status', label: t('cred.status'), type: 'select', value: 'active', options: CRED_STATUSES.map((s) => ({ value: s, label: t(`cred.status.${s}`) })) }),
      field({ name: 'valid_from', label: t('people.valid_from'), type: 'datetime-local', attrs: { step: 1 } }),
      field({ name: 'valid_until', label: t('people.valid_until'), type: 'datetime-local', attrs: { step: 1 } })),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('cred.add'))));
  const kind = () => form.elements.kind.value;
  function secretField() {
    const k = kind();
    if (k === 'card') replace(secretBox, field({ name: 'number', label: t('cred.number'), required: true, hint: t('cred.number_hint'), attrs: { inputmode: 'numeric' } }));
    else if (k === 'pin') replace(secretBox, field({ name: 'pin', label: t('cred.pin'), type: 'password', required: true, autocomplete: 'new-password', hint: t('cred.pin_hint'), attrs: { inputmode: 'numeric' } }));
    else if (k === 'face' || k === 'fingerprint') replace(secretBox, field({ name: 'template', label: t('cred.template'), type: 'file', required: true, hint: t('cred.template_hint') }));
    else replace(secretBox, h('p', { class: 'hint' }, t('cred.mobile_hint')));
  }
  form.elements.kind.addEventListener('change', secretField);
  secretField();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const body = { kind: v.kind, status: v.status };
    if (orNull(v.label)) body.label = v.label.trim();
    if (v.valid_from) body.valid_from = civilFromInput(v.valid_from);
    if (v.valid_until) body.valid_until = civilFromInput(v.valid_until);
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      if (v.kind === 'card') body.number = v.number.trim();
      if (v.kind === 'pin') body.pin = v.pin;
      if (v.kind === 'face' || v.kind === 'fingerprint') {
        const file = form.elements.template.files[0];
        if (!file) { showErrors(form, { fields: [{ field: 'template', reason: 'is required' }] }); return; }
        body.template = await fileToBase64(file);
      }
      const cred = await api('POST', `/api/v1/people/${person.id}/credentials`, { body });
      if (cred.token) {
        showOnce({ title: t('cred.mobile_token'), intro: t('cred.mobile_token_intro'), secret: cred.token });
        delete cred.token;
      }
      form.reset();
      secretField();
      announce(t('cred.added', { kind: t(`cred.kind.${cred.kind}`) }));
      onAdded();
    } catch (err) {
      showErrors(form, err.code === 'conflict' ? { ...err, fields: [{ field: 'number', reason: err.message }] } : err);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function credentialsCard(person, reload) {
  const canEdit = can('PATCH', '/api/v1/people/{id}/credentials/{credential_id}');
  const canDelete = can('DELETE', '/api/v1/people/{id}/credentials/{credential_id}');
  const rows = person.credentials;
  const actions = (c) => {
    const out = [];
    if (canEdit) {
      const sel = h('select', { 'aria-label': t('cred.status_of', { hint: c.hint }), value: c.status },
        CRED_STATUSES.map((s) => h('option', { value: s }, t(`cred.status.${s}`))));
      sel.value = c.status;
      out.push(sel, button(t('common.save'), (e) => busy(e.currentTarget, async () => {
        if (sel.value === c.status) return announce(t('common.nothing_changed'));
        await api('PATCH', `/api/v1/people/${person.id}/credentials/${c.id}`, { body: { status: sel.value }, version: c.version });
        announce(t('common.saved'));
        reload();
      }), { kind: 'small' }));
    }
    if (canDelete) {
      out.push(button(t('common.remove'), async (e) => {
        if (!await confirmDialog({ title: t('cred.remove'), body: h('p', null, t('cred.remove_q', { kind: t(`cred.kind.${c.kind}`), hint: c.hint })), confirmLabel: t('common.remove'), danger: true })) return;
        await busy(e.currentTarget, async () => {
          await api('DELETE', `/api/v1/people/${person.id}/credentials/${c.id}`);
          announce(t('cred.removed'));
          reload();
        });
      }, { kind: 'small' }));
    }
    return h('div', { class: 'row' }, out);
  };
  return h('section', { class: 'card', 'aria-labelledby': 'cred-title' },
    h('h2', { id: 'cred-title' }, t('people.credentials')),
    enrolment(rows),
    h('h3', null, t('cred.list')),
    table({
      caption: t('people.credentials'),
      columns: [
        { label: t('cred.kind'), cell: (c) => t(`cred.kind.${c.kind}`) },
        { label: t('cred.hint'), cell: (c) => h('span', { class: 'mono' }, c.hint) },
        { label: t('cred.label'), cell: (c) => c.label },
        { label: t('cred.status'), cell: (c) => badge(t(`cred.status.${c.status}`), c.status === 'active' ? 'ok' : 'warn') },
        { label: t('people.valid_from'), cell: (c) => civil(c.valid_from) },
        { label: t('people.valid_until'), cell: (c) => civil(c.valid_until) },
        ...(canEdit || canDelete ? [{ label: t('common.actions'), cell: actions, actions: true }] : []),
      ],
      rows,
      empty: t('cred.none_yet'),
    }),
    can('POST', '/api/v1/people/{id}/credentials') ? [h('h3', null, t('cred.add')), addCredentialForm(person, reload)] : null);
}

/* --- access report and erasure ------------------------------------------------------------------- */
const REPORT_EVENTS_SHOWN = 20; // the rest is in the downloaded JSON

async function accessReport(person) {
  const report = await api('GET', `/api/v1/people/${person.id}/report`);
  let photoUrl = null;
  if (report.photo) {
    const bin = Uint8Array.from(atob(report.photo.base64), (c) => c.charCodeAt(0));
    photoUrl = URL.createObjectURL(new Blob([bin], { type: report.photo.type }));
  }
  const row = (k, v) => [h('dt', null, k), h('dd', null, v == null || v === '' ? '—' : v)];
  const body = [
    h('p', null, t('report.intro')),
    h('dl', { class: 'facts' },
      row(t('people.name'), report.name), row(t('people.email'), report.email), row(t('people.phone'), report.phone),
      row(t('people.employee_no'), report.employee_no), row(t('people.status'), t(`people.status.${report.status}`)),
      row(t('people.valid_from'), civil(report.valid_from)), row(t('people.valid_until'), civil(report.valid_until)),
      row(t('people.notes'), report.notes), row(t('report.created'), dateTime(report.created_at)), row(t('report.updated'), dateTime(report.updated_at))),
    h('h3', null, t('people.credentials')),
    table({
      caption: t('people.credentials'),
      columns: [
        { label: t('cred.kind'), cell: (c) => t(`cred.kind.${c.kind}`) },
        { label: t('report.secret'), cell: (c) => h('span', { class: 'mono' }, c.number || c.token || (c.template ? t('report.template_bytes', { n: Math.floor((c.template.length * 3) / 4) }) : c.hint)) },
        { label: t('cred.status'), cell: (c) => t(`cred.status.${c.status}`) },
      ],
      rows: report.credentials,
      empty: t('cred.none_yet'),
    }),
    h('h3', null, t('person.photo')),
    photoUrl ? h('img', { class: 'photo', src: photoUrl, alt: t('person.photo_of', { name: report.name }) }) : h('p', null, t('person.no_photo')),
    h('h3', null, t('report.events')),
    h('p', null, report.events.length ? t('report.events_n', { n: report.events.length }) : t('report.no_events')),
    report.events.length ? h('div', { id: 'report-events' }, h('p', { class: 'hint' }, t('report.events_newest', { n: Math.min(REPORT_EVENTS_SHOWN, report.events.length) })), table({
      caption: t('report.events'),
      columns: [
        { label: t('events.time'), cell: (e) => dateTime(e.at) },
        { label: t('events.door'), cell: (e) => e.door_name || t('events.no_door') },
        { label: t('events.result'), cell: (e) => (e.result ? t(`events.result.${e.result}`) : t(`events.kind.${e.kind}`)) },
      ],
      rows: report.events.slice(0, REPORT_EVENTS_SHOWN),
    })) : null,
    report.events_complete === false ? h('p', { class: 'hint' }, t('report.events_more')) : null,
  ];
  openDialog({
    title: t('report.title', { name: report.name }),
    body,
    actions: [{
      label: t('report.download'),
      kind: 'primary',
      onClick: () => saveBlob(new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' }), `person-${report.id}-report.json`),
    }],
    onClose: () => { if (photoUrl) URL.revokeObjectURL(photoUrl); },
  });
}

/** Exactly what erasing this person destroys, in words. */
export function erasureList(person, groups) {
  const items = [];
  const set = TEXT_FIELDS.filter((k) => person[k]).map((k) => t(`people.${k}`));
  if (person.valid_from || person.valid_until) set.push(t('erase.validity'));
  items.push(t('erase.record', { name: person.name, fields: set.join(', ') }));
  if (person.credentials.length) {
    items.push(t('erase.credentials', {
      n: person.credentials.length,
      list: person.credentials.map((c) => `${t(`cred.kind.${c.kind}`)} ${c.hint}`).join(', '),
    }));
  }
  if (person.has_photo) items.push(t('erase.photo'));
  if (person.group_ids.length) items.push(t('erase.groups', { list: person.group_ids.map((g) => nameOf(groups, g)).join(', ') }));
  items.push(t('erase.key'));
  return items;
}

async function erase(person, groups) {
  const ok = await confirmDialog({
    title: t('erase.title', { name: person.name }),
    body: [h('p', null, t('erase.intro')), h('ul', { class: 'destroy', id: 'erase-list' }, erasureList(person, groups).map((s) => h('li', null, s))),
      notice(t('erase.final'), 'bad')],
    confirmLabel: t('erase.confirm'),
    danger: true,
    check: t('erase.check'),
  });
  if (!ok) return;
  await api('DELETE', `/api/v1/people/${person.id}`);
  announce(t('erase.done', { name: person.name }));
  go('#/people');
}

/* --- pages ---------------------------------------------------------------------------------------- */
export async function create(ctx) {
  const groups = await lookup('groups');
  add(ctx.main, pageHead(t('people.new')), h('section', { class: 'card' }, detailsForm(null, groups)));
}

export async function detail(ctx) {
  const id = Number(ctx.params.id);
  const [person, groups] = await Promise.all([api('GET', `/api/v1/people/${id}`), lookup('groups')]);
  const draw = (p) => {
    const actions = [];
    if (can('GET', '/api/v1/people/{id}/report')) {
      actions.push(button(t('report.button'), (e) => busy(e.currentTarget, () => accessReport(p)), { attrs: { id: 'report-button' } }));
    }
    if (can('DELETE', '/api/v1/people/{id}')) {
      actions.push(button(t('erase.button'), (e) => busy(e.currentTarget, () => erase(p, groups)), { kind: 'danger', attrs: { id: 'erase-button' } }));
    }
    const photo = photoCard(p, ctx, () => refresh());
    replace(ctx.main,
      h('p', null, link('#/people', t('person.back'))),
      pageHead(p.name, ...actions),
      h('div', { class: 'grid2' },
        h('section', { class: 'card', 'aria-labelledby': 'details-title' }, h('h2', { id: 'details-title' }, t('person.details')),
          can('PATCH', '/api/v1/people/{id}') ? detailsForm(p, groups, (saved) => { draw(saved); ctx.main.querySelector('h1').focus(); }) : readOnlyDetails(p, groups)),
        photo.el),
      credentialsCard(p, () => refresh()));
    return photo.load();
  };
  async function refresh() {
    try {
      const p = await api('GET', `/api/v1/people/${id}`);
      await draw(p);
      ctx.main.querySelector('h1').focus();
    } catch (e) {
      alertMessage(errorText(e));
    }
  }
  await draw(person);
}
