// Terminals: status, enrolment (a one-time token, or a bundle whose
// private key is offered once as a file and then dropped), commands with
// their states refreshed until done, and firmware with per-terminal
// rollout progress.

import { add, h, replace, saveBlob } from '../dom.js';
import { t } from '../i18n.js';
import { api, listAll } from '../api.js';
import { dateTime, bytes } from '../fmt.js';
import {
  can, pageHead, field, values, orNull, intOrNull, table, pager, button, busy, announce, notice, openDialog,
  confirmDialog, showOnce, showErrors, clearErrors, errorText, link, badge, checkGroup, checkedValues, alertMessage,
} from '../ui.js';
import { lookup, nameOf, invalidate } from '../store.js';
import { go } from '../shell.js';

const POLL_MS = 2000;

export function statusBadge(d) {
  const kind = d.status === 'active' ? 'ok' : d.status === 'disabled' ? 'bad' : 'warn';
  return badge(t(`terminals.status.${d.status}`), kind);
}

export function onlineBadge(d) {
  return d.online ? badge(t('terminals.online'), 'ok') : badge(t('terminals.offline'), d.status === 'active' ? 'bad' : '');
}

function offset(ms) {
  if (ms == null) return '';
  const s = ms / 1000;
  return `${s >= 0 ? '+' : ''}${s.toFixed(1)} s`;
}

function commandBadge(state) {
  const kind = state === 'done' ? 'ok' : state === 'failed' || state === 'expired' ? 'bad' : 'warn';
  return badge(t(`commands.state.${state}`), kind);
}

/* --- enrolment results ---------------------------------------------------------------------- */
function showToken(doc) {
  showOnce({
    title: t('terminals.token_title', { name: doc.device ? doc.device.name : '' }),
    intro: t('terminals.token_intro', { minutes: Math.round(doc.enroll_token_expires_in_s / 60) }),
    secret: doc.enroll_token,
  });
}

/** The bundle's three PEMs as one file, offered once; nothing is kept afterwards. */
function showBundle(doc) {
  let bundle = doc.bundle;
  const uid = doc.device.uid;
  const text = () => [
    `# Gatehouse terminal ${uid} (${doc.device.name})`,
    '# The private key below is shown only once: the appliance did not keep it.',
    '# --- terminal private key ---', bundle.key_pem.trim(),
    '# --- terminal certificate ---', bundle.cert_pem.trim(),
    '# --- device CA (to check the appliance) ---', bundle.ca_pem.trim(), ''].join('\n');
  let downloaded = false;
  const status = h('p', { 'aria-live': 'polite' });
  openDialog({
    title: t('terminals.bundle_title', { name: doc.device.name }),
    body: [h('p', null, t('terminals.bundle_intro')), notice(t('terminals.bundle_once'), 'warn'), status],
    actions: [{
      label: t('terminals.bundle_download'),
      kind: 'primary',
      attrs: { id: 'bundle-download' },
      onClick: () => {
        if (!bundle) return;
        saveBlob(new Blob([text()], { type: 'application/x-pem-file' }), `terminal-${uid}.pem`);
        downloaded = true;
        status.textContent = t('terminals.bundle_saved', { name: `terminal-${uid}.pem` });
      },
    }],
    closeLabel: t('common.done'),
    onClose: () => {
      bundle = null; // the key leaves memory with the dialog
      doc.bundle = null;
      if (!downloaded) alertMessage(t('terminals.bundle_lost'));
    },
  });
}

async function newTerminalDialog(onCreated) {
  const sites = await lookup('sites');
  const form = h('form', { novalidate: true, id: 'terminal-form' },
    h('div', { class: 'fields' },
      field({ name: 'name', label: t('terminals.name'), required: true }),
      field({ name: 'model', label: t('terminals.model') }),
      field({ name: 'site_id', label: t('terminals.site'), type: 'select', value: sites.items[0] ? String(sites.items[0].id) : '',
        options: [{ value: '', label: t('common.none') }, ...sites.items.map((s) => ({ value: String(s.id), label: s.name }))] }),
      h('fieldset', { class: 'field wide' }, h('legend', null, t('terminals.enrolment')),
        h('div', { class: 'checks' },
          h('label', null, h('input', { type: 'radio', name: 'enrollment', value: 'token', checked: true }), t('terminals.enrol_token')),
          h('label', null, h('input', { type: 'radio', name: 'enrollment', value: 'bundle' }), t('terminals.enrol_bundle'))),
        h('p', { class: 'hint' }, t('terminals.enrol_hint')))),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('common.create'))));
  const { close } = openDialog({ title: t('terminals.new'), body: form, closeLabel: t('common.cancel') });
  form.elements.name.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const body = { name: v.name.trim(), enrollment: form.querySelector('input[name=enrollment]:checked').value };
    if (orNull(v.model)) body.model = v.model.trim();
    if (v.site_id) body.site_id = Number(v.site_id);
    try {
      const doc = await api('POST', '/api/v1/devices', { body });
      close();
      invalidate('devices');
      if (doc.bundle) showBundle(doc);
      else showToken(doc);
      onCreated(doc.device);
    } catch (err) {
      showErrors(form, err);
    }
  });
}

/* --- list ------------------------------------------------------------------------------------- */
export async function list(ctx) {
  const sites = await lookup('sites');
  const results = h('div', { id: 'terminals-list' });
  const p = pager({
    label: t('nav.terminals'),
    load: (cursor) => api('GET', '/api/v1/devices', { query: { limit: 100, cursor } }),
    render: (items) => replace(results, table({
      caption: t('nav.terminals'),
      columns: [
        { label: t('terminals.name'), cell: (d) => link(`#/terminals/${d.id}`, d.name) },
        { label: t('terminals.status'), cell: statusBadge },
        { label: t('terminals.connection'), cell: onlineBadge },
        { label: t('terminals.last_seen'), cell: (d) => dateTime(d.last_seen_at) },
        { label: t('terminals.firmware'), cell: (d) => d.firmware_version || '—' },
        { label: t('terminals.clock_offset'), cell: (d) => (d.last_seen_at ? offset(d.clock_offset_ms) : '—'), num: true },
        { label: t('terminals.model'), cell: (d) => d.model },
        { label: t('terminals.site'), cell: (d) => (d.site_id ? nameOf(sites, d.site_id) : '—') },
      ],
      rows: items,
      empty: t('terminals.none'),
    })),
  });
  const actions = [];
  if (can('POST', '/api/v1/devices')) {
    actions.push(button(t('terminals.new'), (e) => busy(e.currentTarget, () => newTerminalDialog(() => p.first())), { kind: 'primary', attrs: { id: 'terminal-new' } }));
  }
  if (can('GET', '/api/v1/firmware')) actions.push(h('a', { class: 'button', href: '#/terminals/firmware' }, t('nav.firmware')));
  add(ctx.main, pageHead(t('nav.terminals'), ...actions), results, p.el);
  await p.first();
  const timer = setInterval(() => { if (document.visibilityState === 'visible' && ctx.live()) p.reload(); }, 15000);
  ctx.onLeave(() => clearInterval(timer));
}

/* --- one terminal --------------------------------------------------------------------------------- */
function paramsText(c, doorsById) {
  const p = c.params || {};
  if (c.kind === 'unlock') return t('commands.unlock_params', { door: nameOf(doorsById, p.door_id), s: p.seconds ?? '' });
  if (c.kind === 'lockdown') return p.on ? t('commands.lockdown_on') : t('commands.lockdown_off');
  if (c.kind === 'firmware') return t('commands.firmware_params');
  return '';
}

export async function detail(ctx) {
  const id = Number(ctx.params.id);
  const [dev, sites, allDoors] = await Promise.all([api('GET', `/api/v1/devices/${id}`), lookup('sites'), lookup('doors')]);
  const own = allDoors.items.filter((d) => d.terminal_id === id);
  const canCmd = can('POST', '/api/v1/devices/{id}/commands');
  const cmdList = h('div', { id: 'commands-list' });
  let timer = null;

  async function loadCommands() {
    try {
      const page = await api('GET', `/api/v1/devices/${id}/commands`, { query: { limit: 20 } });
      replace(cmdList, table({
        caption: t('commands.title'),
        columns: [
          { label: t('commands.id'), cell: (c) => String(c.id), num: true },
          { label: t('commands.kind'), cell: (c) => t(`commands.kind.${c.kind}`) },
          { label: t('commands.params'), cell: (c) => paramsText(c, allDoors) },
          { label: t('commands.state'), cell: (c) => h('span', { dataset: { command: String(c.id), state: c.state } }, commandBadge(c.state)) },
          { label: t('commands.created'), cell: (c) => dateTime(c.created_at) },
          { label: t('commands.done'), cell: (c) => (c.done_at ? dateTime(c.done_at) : c.state === 'queued' ? t('commands.expires', { when: dateTime(c.expires_at) }) : '') },
          { label: t('commands.result'), cell: (c) => c.result },
        ],
        rows: page.items,
        empty: t('commands.none'),
      }));
      const pending = page.items.some((c) => c.state === 'queued' || c.state === 'sent');
      if (pending && !timer) timer = setInterval(() => { if (ctx.live()) loadCommands(); }, POLL_MS);
      if (!pending && timer) { clearInterval(timer); timer = null; }
    } catch (e) {
      replace(cmdList, notice(errorText(e), 'bad'));
    }
  }
  ctx.onLeave(() => { if (timer) clearInterval(timer); });

  const actions = [];
  if (can('POST', '/api/v1/devices/{id}/disable') && dev.status !== 'disabled') {
    actions.push(button(t('terminals.disable'), async (e) => {
      if (!await confirmDialog({ title: t('terminals.disable_q', { name: dev.name }), body: h('p', null, t('terminals.disable_text')), confirmLabel: t('terminals.disable'), danger: true })) return;
      await busy(e.currentTarget, async () => { await api('POST', `/api/v1/devices/${id}/disable`); invalidate('devices'); announce(t('terminals.disabled')); ctx.rerender(); });
    }, { attrs: { id: 'terminal-disable' } }));
  }
  if (can('POST', '/api/v1/devices/{id}/enable') && dev.status === 'disabled') {
    actions.push(button(t('terminals.enable'), (e) => busy(e.currentTarget, async () => {
      await api('POST', `/api/v1/devices/${id}/enable`); invalidate('devices'); announce(t('terminals.enabled')); ctx.rerender();
    }), { attrs: { id: 'terminal-enable' } }));
  }
  if (can('POST', '/api/v1/devices/{id}/enroll-token')) {
    actions.push(button(t('terminals.new_token'), async (e) => {
      if (!await confirmDialog({ title: t('terminals.new_token'), body: h('p', null, t('terminals.new_token_text')), confirmLabel: t('terminals.new_token') })) return;
      await busy(e.currentTarget, async () => showToken({ device: dev, ...await api('POST', `/api/v1/devices/${id}/enroll-token`) }));
    }));
  }
  if (can('DELETE', '/api/v1/devices/{id}')) {
    actions.push(button(t('common.delete'), async (e) => {
      if (!await confirmDialog({ title: t('terminals.delete_q', { name: dev.name }), body: h('p', null, t('terminals.delete_text')), confirmLabel: t('common.delete'), danger: true })) return;
      await busy(e.currentTarget, async () => { await api('DELETE', `/api/v1/devices/${id}`); invalidate('devices'); invalidate('doors'); announce(t('common.deleted')); go('#/terminals'); });
    }, { kind: 'danger' }));
  }

  const fact = (k, v) => [h('dt', null, k), h('dd', null, v)];
  const facts = h('dl', { class: 'facts', id: 'terminal-facts' },
    fact(t('terminals.status'), statusBadge(dev)), fact(t('terminals.connection'), onlineBadge(dev)),
    fact(t('terminals.uid'), h('span', { class: 'mono' }, dev.uid)), fact(t('terminals.model'), dev.model || '—'),
    fact(t('terminals.site'), dev.site_id ? nameOf(sites, dev.site_id) : '—'),
    fact(t('terminals.last_seen'), dateTime(dev.last_seen_at)), fact(t('terminals.firmware'), dev.firmware_version || '—'),
    fact(t('terminals.clock_offset'), dev.last_seen_at ? offset(dev.clock_offset_ms) : '—'),
    fact(t('terminals.certificate'), dev.certificate_serial ? h('span', { class: 'mono' }, dev.certificate_serial) : t('terminals.not_enrolled')),
    fact(t('terminals.certificate_expires'), dev.certificate_expires_at ? dateTime(dev.certificate_expires_at) : '—'));

  let editForm = null;
  if (can('PATCH', '/api/v1/devices/{id}')) {
    editForm = h('form', { novalidate: true, id: 'terminal-edit' },
      h('div', { class: 'fields' },
        field({ name: 'name', label: t('terminals.name'), required: true, value: dev.name }),
        field({ name: 'model', label: t('terminals.model'), value: dev.model }),
        field({ name: 'site_id', label: t('terminals.site'), type: 'select', value: dev.site_id ? String(dev.site_id) : '',
          options: [{ value: '', label: t('common.none') }, ...sites.items.map((s) => ({ value: String(s.id), label: s.name }))] })),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('common.save'))));
    editForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(editForm);
      const v = values(editForm);
      try {
        await api('PATCH', `/api/v1/devices/${id}`, { body: { name: v.name.trim(), model: v.model.trim(), site_id: intOrNull(v.site_id) }, version: dev.version });
        invalidate('devices');
        announce(t('common.saved'));
        ctx.rerender();
      } catch (err) {
        showErrors(editForm, err);
      }
    });
  }

  let cmdForm = null;
  if (canCmd) {
    const doorChoices = own.length ? own : allDoors.items;
    const extra = h('div', { class: 'fields' });
    const kinds = ['unlock', 'lockdown', 'resync', 'reboot', 'set_time'];
    cmdForm = h('form', { novalidate: true, id: 'command-form', 'aria-label': t('commands.send') },
      h('div', { class: 'fields' }, field({ name: 'kind', label: t('commands.kind'), type: 'select', value: 'unlock', options: kinds.map((k) => ({ value: k, label: t(`commands.kind.${k}`) })) })),
      extra,
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('commands.queue'))));
    const kindChanged = () => {
      const k = cmdForm.elements.kind.value;
      if (k === 'unlock') {
        replace(extra,
          field({ name: 'door_id', label: t('commands.door'), type: 'select', required: true, value: doorChoices[0] ? String(doorChoices[0].id) : '',
            options: doorChoices.map((d) => ({ value: String(d.id), label: `${nameOf(sites, d.site_id)} / ${d.name}` })), hint: own.length ? null : t('commands.no_own_doors') }),
          field({ name: 'seconds', label: t('commands.seconds'), type: 'number', value: doorChoices[0] ? doorChoices[0].unlock_seconds : 5, attrs: { min: 1, max: 3600 } }));
      } else if (k === 'lockdown') {
        replace(extra, field({ name: 'on', label: t('commands.lockdown'), type: 'select', value: 'true', options: [{ value: 'true', label: t('commands.lockdown_on') }, { value: 'false', label: t('commands.lockdown_off') }] }));
      } else {
        replace(extra);
      }
    };
    cmdForm.elements.kind.addEventListener('change', kindChanged);
    kindChanged();
    cmdForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(cmdForm);
      const v = values(cmdForm);
      const body = { kind: v.kind };
      if (v.kind === 'unlock') body.params = { door_id: intOrNull(v.door_id), seconds: Number(v.seconds) };
      if (v.kind === 'lockdown') body.params = { on: v.on === 'true' };
      if (v.kind === 'reboot' && !await confirmDialog({ title: t('commands.reboot_q', { name: dev.name }), body: h('p', null, t('commands.reboot_text')), confirmLabel: t('commands.kind.reboot'), danger: true })) return;
      try {
        const c = await api('POST', `/api/v1/devices/${id}/commands`, { body });
        announce(t('commands.queued', { kind: t(`commands.kind.${c.kind}`), id: c.id }));
        await loadCommands();
      } catch (err) {
        showErrors(cmdForm, { ...err, message: err.message, fields: (err.fields || []).map((f) => ({ ...f, field: f.field.replace(/^params\./, '') })) });
      }
    });
  }

  add(ctx.main, 
    h('p', null, link('#/terminals', t('terminals.back'))),
    pageHead(dev.name, ...actions),
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-labelledby': 'terminal-state' }, h('h2', { id: 'terminal-state' }, t('terminals.state')), facts),
      editForm ? h('section', { class: 'card', 'aria-labelledby': 'terminal-edit-title' }, h('h2', { id: 'terminal-edit-title' }, t('terminals.edit')), editForm) : null),
    h('section', { class: 'card', 'aria-labelledby': 'terminal-doors' }, h('h2', { id: 'terminal-doors' }, t('terminals.doors')),
      own.length ? h('ul', null, own.map((d) => h('li', null, `${nameOf(sites, d.site_id)} / ${d.name}`))) : h('p', { class: 'muted' }, t('terminals.no_doors')),
      h('p', { class: 'hint' }, t('terminals.doors_hint'), ' ', link('#/access/doors', t('nav.doors')))),
    h('section', { class: 'card', 'aria-labelledby': 'commands-title' }, h('h2', { id: 'commands-title' }, t('commands.title')),
      cmdForm, h('h3', null, t('commands.recent')), cmdList));
  await loadCommands();
}

/* --- firmware ---------------------------------------------------------------------------------------- */
export async function firmware(ctx) {
  const listBox = h('div', { id: 'firmware-list' });
  const progressBox = h('div', { id: 'rollout-progress' });
  let timer = null;
  ctx.onLeave(() => { if (timer) clearInterval(timer); });

  async function showProgress(img) {
    const devices = await lookup('devices');
    const draw = async () => {
      try {
        const page = await api('GET', `/api/v1/firmware/${img.id}/rollouts`);
        replace(progressBox, h('section', { class: 'card', 'aria-labelledby': 'rollout-title' },
          h('h2', { id: 'rollout-title' }, t('firmware.progress_of', { model: img.model, version: img.version })),
          table({
            caption: t('firmware.progress'),
            columns: [
              { label: t('terminals.name'), cell: (r) => link(`#/terminals/${r.device_id}`, nameOf(devices, r.device_id)) },
              { label: t('firmware.state'), cell: (r) => badge(t(`firmware.state.${r.state}`), r.state === 'done' ? 'ok' : r.state === 'failed' ? 'bad' : 'warn') },
              { label: t('firmware.progress'), cell: (r) => h('div', { class: 'progress' }, h('progress', { max: 100, value: r.percent, 'aria-label': t('firmware.progress_for', { name: nameOf(devices, r.device_id) }) }), `${r.percent}%`) },
              { label: t('firmware.sent'), cell: (r) => `${bytes(r.bytes_sent)} / ${bytes(r.size)}` },
              { label: t('firmware.command'), cell: (r) => (r.command_state ? t(`commands.state.${r.command_state}`) : '—') },
            ],
            rows: page.items,
            empty: t('firmware.no_rollout'),
          })));
        const running = page.items.some((r) => r.state === 'pending' || r.state === 'sending');
        if (!running && timer) { clearInterval(timer); timer = null; }
        return running;
      } catch (e) {
        replace(progressBox, notice(errorText(e), 'bad'));
        return false;
      }
    };
    if (timer) { clearInterval(timer); timer = null; }
    if (await draw()) timer = setInterval(() => { if (ctx.live()) draw(); }, POLL_MS);
  }

  async function rollout(img) {
    const { items } = await listAll('/api/v1/devices');
    const form = h('form', { novalidate: true, id: 'rollout-form' },
      h('p', null, t('firmware.rollout_intro', { model: img.model, version: img.version })),
      checkGroup({ name: 'device_ids', legend: t('firmware.choose_terminals'), options: items.map((d) => ({ value: d.id, label: `${d.name}${d.model ? ` (${d.model})` : ''}` })),
        checked: new Set(items.filter((d) => d.model === img.model).map((d) => d.id)), hint: t('terminals.none') }),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('firmware.start'))));
    const { close } = openDialog({ title: t('firmware.rollout_title'), body: form, closeLabel: t('common.cancel') });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        await api('POST', `/api/v1/firmware/${img.id}/rollouts`, { body: { device_ids: checkedValues(form, 'device_ids').map(Number) } });
        close();
        announce(t('firmware.started'));
        await showProgress(img);
      } catch (err) {
        showErrors(form, err);
      }
    });
  }

  async function loadList() {
    const page = await api('GET', '/api/v1/firmware');
    const canRoll = can('POST', '/api/v1/firmware/{id}/rollouts');
    replace(listBox, table({
      caption: t('firmware.images'),
      columns: [
        { label: t('firmware.model'), cell: (f) => f.model },
        { label: t('firmware.version'), cell: (f) => f.version },
        { label: t('firmware.size'), cell: (f) => bytes(f.size), num: true },
        { label: 'SHA-256', cell: (f) => h('span', { class: 'mono', title: f.sha256 }, `${f.sha256.slice(0, 16)}…`) },
        {
          label: t('common.actions'), actions: true,
          cell: (f) => h('div', { class: 'row' },
            canRoll ? button(t('firmware.rollout'), (e) => busy(e.currentTarget, () => rollout(f)), { kind: 'small' }) : null,
            button(t('firmware.progress'), (e) => busy(e.currentTarget, () => showProgress(f)), { kind: 'small' })),
        },
      ],
      rows: page.items,
      empty: t('firmware.none'),
    }));
  }

  let upload = null;
  if (can('POST', '/api/v1/firmware')) {
    const prog = h('progress', { max: 100, value: 0, id: 'firmware-upload-progress', 'aria-label': t('firmware.uploading') });
    const progBox = h('div', { class: 'progress', hidden: true }, prog, h('span', { 'aria-live': 'polite' }));
    upload = h('form', { novalidate: true, id: 'firmware-form', class: 'card', 'aria-label': t('firmware.upload') },
      h('h2', null, t('firmware.upload')),
      h('div', { class: 'fields' },
        field({ name: 'model', label: t('firmware.model'), required: true }),
        field({ name: 'version', label: t('firmware.version'), required: true }),
        field({ name: 'body', label: t('firmware.file'), type: 'file', required: true })),
      progBox,
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('firmware.upload'))));
    upload.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(upload);
      const file = upload.elements.body.files[0];
      if (!file) { showErrors(upload, { fields: [{ field: 'body', reason: 'is required' }] }); return; }
      progBox.hidden = false;
      const label = progBox.querySelector('span');
      try {
        await api('POST', '/api/v1/firmware', {
          body: file, contentType: 'application/octet-stream', upload: true,
          query: { model: upload.elements.model.value.trim(), version: upload.elements.version.value.trim() },
          onProgress: (loaded, total, phase) => {
            if (phase === 'processing') { prog.removeAttribute('value'); label.textContent = t('firmware.verifying'); } else if (total) {
              prog.value = Math.round((loaded / total) * 100);
              label.textContent = `${prog.value}%`;
            }
          },
        });
        upload.reset();
        progBox.hidden = true;
        announce(t('firmware.uploaded'));
        await loadList();
      } catch (err) {
        progBox.hidden = true;
        showErrors(upload, err);
      }
    });
  }

  add(ctx.main, h('p', null, link('#/terminals', t('terminals.back'))), pageHead(t('nav.firmware')),
    upload, h('h2', null, t('firmware.images')), listBox, progressBox);
  await loadList();
}

