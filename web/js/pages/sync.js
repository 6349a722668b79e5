// Site sync (docs/sync.md): where this appliance stands (central, site or
// neither), when a site last synced, what is pending, the last error. On a
// central: the pairings, a new one (its code and the fingerprint shown once),
// revoking, a bundle per pairing. On an appliance that is neither: pairing
// with a central. On a site: sync now (the sync job, followed to its end).
// Bundles for sites without a link: download an export, upload a bundle.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api, download, listAll, tenant as currentTenant, ApiError } from '../api.js';
import { dateTime, number, bytes } from '../fmt.js';
import {
  can, role, pageHead, field, values, table, button, busy, announce, notice, badge, openDialog, confirmDialog,
  showErrors, clearErrors, errorText, alertMessage,
} from '../ui.js';
import { syncChanged } from '../shell.js';

const POLL_MS = 1000;

/* Fixed words for the API's values (written out so the translation check sees every key). */
const ROLE = {
  central: () => t('sync.role.central'),
  site: () => t('sync.role.site'),
  none: () => t('sync.role.none'),
};
const PAIRING_STATE = {
  pending: () => badge(t('sync.state.pending'), 'warn'),
  active: () => badge(t('sync.state.active'), 'ok'),
  revoked: () => badge(t('sync.state.revoked'), 'bad'),
};
const STREAM = {
  keys: () => t('sync.stream.keys'),
  changes: () => t('sync.stream.changes'),
  status: () => t('sync.stream.status'),
  audit: () => t('sync.stream.audit'),
  anchors: () => t('sync.stream.anchors'),
  events: () => t('sync.stream.events'),
};
const CENTRAL_STREAMS = ['keys', 'changes'];
const SITE_STREAMS = ['status', 'audit', 'anchors', 'events'];

/** The API's words for refusals it explains (a 503 here carries the reason too). */
function syncError(e) {
  if (e instanceof ApiError && e.code === 'unavailable' && e.message) return `${t('error.unavailable')} ${e.message}`;
  return errorText(e);
}

function since(minutes) {
  if (minutes == null) return t('sync.never_synced');
  if (minutes < 1) return t('sync.just_now');
  if (minutes < 120) return t('sync.minutes_ago', { n: number(minutes) });
  if (minutes < 48 * 60) return t('sync.hours_ago', { n: number(Math.floor(minutes / 60)) });
  return t('sync.days_ago', { n: number(Math.floor(minutes / 1440)) });
}

function shortId(id) {
  return id ? h('span', { class: 'mono', title: id }, `${id.slice(0, 8)}…`) : '—';
}

/* --- status ---------------------------------------------------------------------------------------- */
function siteFacts(s) {
  const row = (k, v, id) => [h('dt', null, k), h('dd', { id }, v == null || v === '' ? '—' : v)];
  const c = s.central || {};
  return h('dl', { class: 'facts', id: 'sync-facts' },
    row(t('sync.central'), c.url ? h('span', { class: 'mono' }, c.url) : null, 'sync-central-url'),
    row(t('sync.fingerprint'), c.fingerprint ? h('span', { class: 'mono' }, c.fingerprint) : null),
    row(t('sync.central_id'), c.appliance_id ? h('span', { class: 'mono' }, c.appliance_id) : null),
    row(t('sync.paired_at'), dateTime(s.paired_at)),
    row(t('sync.last_sync'), s.last_sync_at ? `${since(s.minutes_since_sync)} (${dateTime(s.last_sync_at)})` : t('sync.never_synced'), 'sync-last'),
    row(t('sync.last_attempt'), dateTime(s.last_attempt_at)),
    s.failures ? row(t('sync.failures'), number(s.failures), 'sync-failures') : null,
    s.next_attempt_at ? row(t('sync.next_attempt'), dateTime(s.next_attempt_at)) : null);
}

function siteStreams(streams) {
  if (!streams) return null;
  const rows = [
    ...CENTRAL_STREAMS.map((n) => ({ n, from: t('sync.from_central'), pos: streams[n].applied, pending: null })),
    ...SITE_STREAMS.map((n) => ({ n, from: t('sync.from_site'), pos: streams[n].acked, pending: streams[n].pending })),
  ];
  return h('div', { id: 'sync-streams' }, table({
    caption: t('sync.streams'),
    columns: [
      { label: t('sync.stream'), cell: (r) => h('span', { dataset: { stream: r.n } }, STREAM[r.n]()) },
      { label: t('sync.direction'), cell: (r) => r.from },
      { label: t('sync.cursor'), cell: (r) => number(r.pos), num: true },
      { label: t('sync.pending'), cell: (r) => (r.pending == null ? '—' : h('span', { dataset: { pending: r.n } }, number(r.pending))), num: true },
    ],
    rows,
  }), h('p', { class: 'hint' }, t('sync.streams_hint')));
}

function statusCard(s) {
  const kind = s.role === 'none' ? '' : 'ok';
  const body = [h('p', { class: 'spread' }, h('span', null, t('sync.this_appliance')),
    h('span', { id: 'sync-role', dataset: { role: s.role } }, badge(ROLE[s.role] ? ROLE[s.role]() : s.role, kind)))];
  if (s.role === 'site') {
    body.push(siteFacts(s));
    if (s.last_error) body.push(h('div', { class: 'notice bad', id: 'sync-last-error' }, h('strong', null, t('sync.last_error')), ' ', s.last_error));
  } else if (s.role === 'central') {
    const live = (s.pairings || []).filter((p) => p.state !== 'revoked').length;
    body.push(h('p', null, t('sync.central_text', { n: number(live) })));
  } else {
    body.push(h('p', null, t('sync.none_text')));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'sync-status-title', id: 'sync-status' },
    h('h2', { id: 'sync-status-title' }, t('sync.status')), body);
}

/* --- central: pairings --------------------------------------------------------------------------- */
function pendingOf(p) {
  const s = p.streams || {};
  return CENTRAL_STREAMS.reduce((n, k) => n + ((s[k] && s[k].pending) || 0), 0);
}

function newPairingDialog(made) {
  const code = h('p', { class: 'secret', tabindex: '0', id: 'sync-new-code', 'data-secret': 'yes' }, made.code);
  const fp = h('dd', { class: 'mono', id: 'sync-new-fingerprint' }, made.fingerprint);
  const address = h('dd', { class: 'mono', id: 'sync-new-address' }, location.origin);
  const copy = button(t('common.copy'), async () => {
    try {
      await navigator.clipboard.writeText(`${location.origin}\n${made.fingerprint}\n${made.code}\n`);
      announce(t('common.copied'));
    } catch {
      alertMessage(t('sync.copy_failed'));
    }
  });
  return openDialog({
    title: t('sync.new_title', { site: made.pairing.site_name }),
    cls: 'sync-new',
    body: [
      h('p', null, t('sync.new_intro')),
      h('dl', { class: 'facts' },
        h('dt', null, t('sync.address')), address,
        h('dt', null, t('sync.fingerprint')), fp,
        h('dt', null, t('sync.expires')), h('dd', { id: 'sync-new-expires' }, dateTime(made.expires_at))),
      h('p', null, t('sync.code')), code, h('div', { class: 'row' }, copy),
      h('p', { class: 'hint' }, t('sync.address_hint')),
      h('p', { class: 'hint' }, t('sync.new_cli')),
      h('p', null, h('code', { class: 'mono' }, `gatehouse sync pair --central ${location.origin} --fingerprint ${made.fingerprint} --code ${made.code}`)),
      notice(t('sync.code_once'), 'warn'),
    ],
    onClose: () => {
      // Dropped with the dialog: nothing keeps the code.
      made.code = '';
      replace(code, '');
    },
    closeLabel: t('common.done'),
  });
}

async function pairSiteDialog(taken, after) {
  if (role() === 'system-admin' && !currentTenant()) {
    alertMessage(t('error.tenant_required'));
    return;
  }
  let sites;
  try {
    sites = (await listAll('/api/v1/sites')).items;
  } catch (e) {
    alertMessage(errorText(e));
    return;
  }
  const free = sites.filter((s) => !taken.has(s.id));
  const form = h('form', { novalidate: true, id: 'sync-pair-site-form' },
    h('p', null, t('sync.pair_site_intro')),
    free.length
      ? field({ name: 'site_id', label: t('sync.site'), type: 'select', required: true,
        options: free.map((s) => ({ value: String(s.id), label: `${s.name} (${s.timezone})` })) })
      : notice(t('sync.no_free_site'), 'warn'),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', disabled: !free.length }, t('sync.make_code'))));
  const { close } = openDialog({ title: t('sync.pair_site'), body: form, closeLabel: t('common.cancel') });
  const sel = form.querySelector('select');
  if (sel) sel.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const made = await api('POST', '/api/v1/sync/pairings', { body: { site_id: Number(values(form).site_id) } });
      close();
      announce(t('sync.pairing_made', { site: made.pairing.site_name }));
      newPairingDialog(made);
      await after();
    } catch (err) {
      showErrors(form, err);
    } finally {
      btn.disabled = false;
    }
  });
}

function pairingsSection(reload) {
  const box = h('div', { id: 'sync-pairings' });
  const result = h('div', { id: 'sync-export-result', 'aria-live': 'polite' });
  let taken = new Set();

  async function load() {
    try {
      const page = await api('GET', '/api/v1/sync/pairings');
      taken = new Set(page.items.filter((p) => p.state !== 'revoked').map((p) => p.site_id));
      replace(box, table({
        caption: t('sync.pairings'),
        columns: [
          { label: t('sync.pairing'), cell: (p) => String(p.id), num: true },
          { label: t('sync.site'), cell: (p) => p.site_name },
          { label: t('sync.state'), cell: (p) => h('span', { dataset: { state: p.state } }, PAIRING_STATE[p.state] ? PAIRING_STATE[p.state]() : p.state) },
          { label: t('sync.created'), cell: (p) => [dateTime(p.created_at), h('p', { class: 'hint' }, p.created_by)] },
          { label: t('sync.paired_at'), cell: (p) => (p.paired_at ? dateTime(p.paired_at) : p.state === 'pending' ? t('sync.code_until', { when: dateTime(p.code_expires_at) }) : '—') },
          { label: t('sync.site_appliance'), cell: (p) => shortId(p.site_appliance_id) },
          { label: t('sync.last_contact'), cell: (p) => dateTime(p.last_contact_at) },
          { label: t('sync.pending'), cell: (p) => (p.state === 'revoked' ? '—' : number(pendingOf(p))), num: true },
          {
            label: t('common.actions'), actions: true,
            cell: (p) => (p.state === 'revoked' ? '' : h('div', { class: 'row' },
              p.state === 'active' && can('GET', '/api/v1/sync/export') ? button(t('sync.download_bundle'), (e) => busy(e.currentTarget, async () => {
                replace(result, h('p', { class: 'muted' }, t('sync.exporting')));
                try {
                  const { filename, blob } = await download('/api/v1/sync/export', { query: { pairing: p.id }, fallbackName: 'gatehouse-sync.ghsync' });
                  replace(result, notice(t('sync.exported', { name: filename, size: bytes(blob.size) }), 'ok'));
                  announce(t('sync.exported_short', { name: filename }));
                } catch (err) {
                  replace(result, notice(syncError(err), 'bad'));
                }
              }), { kind: 'small', attrs: { dataset: { export: String(p.id) }, 'aria-label': t('sync.download_for', { site: p.site_name }) } }) : null,
              can('DELETE', '/api/v1/sync/pairings/{id}') ? button(t('sync.revoke'), async (e) => {
                if (!await confirmDialog({
                  title: t('sync.revoke_q', { site: p.site_name }),
                  body: h('p', null, p.state === 'active' ? t('sync.revoke_text') : t('sync.revoke_pending_text')),
                  confirmLabel: t('sync.revoke'), danger: true,
                })) return;
                await busy(e.currentTarget, async () => {
                  await api('DELETE', `/api/v1/sync/pairings/${p.id}`);
                  announce(t('sync.revoked', { site: p.site_name }));
                  await reload();
                });
              }, { kind: 'small', attrs: { dataset: { revoke: String(p.id) }, 'aria-label': t('sync.revoke_for', { site: p.site_name }) } }) : null)),
          },
        ],
        rows: page.items,
        empty: t('sync.no_pairings'),
      }));
    } catch (e) {
      replace(box, notice(errorText(e), 'bad'));
    }
  }

  const pairBtn = can('POST', '/api/v1/sync/pairings')
    ? button(t('sync.pair_site'), () => pairSiteDialog(taken, reload), { kind: 'primary', attrs: { id: 'sync-pair-site' } })
    : null;
  const section = h('section', { class: 'card', 'aria-labelledby': 'sync-pairings-title' },
    h('div', { class: 'spread' }, h('h2', { id: 'sync-pairings-title' }, t('sync.pairings')), pairBtn),
    h('p', { class: 'muted' }, t('sync.pairings_intro')),
    role() === 'system-admin' && !currentTenant() ? notice(t('sync.all_tenants')) : null,
    box, result);
  return { section, load };
}

/* --- neither: pair with a central ------------------------------------------------------------------ */
function pairForm(after) {
  const form = h('form', { novalidate: true, id: 'sync-pair-form', class: 'card', 'aria-labelledby': 'sync-pair-title' },
    h('h2', { id: 'sync-pair-title' }, t('sync.pair_central')),
    h('p', { class: 'muted' }, t('sync.pair_central_intro')),
    h('div', { class: 'fields' },
      field({ name: 'central_url', label: t('sync.central_url'), type: 'url', required: true, hint: t('sync.central_url_hint'), attrs: { placeholder: 'https://central.example.org:8443' } }),
      field({ name: 'fingerprint', label: t('sync.fingerprint'), required: true, wide: true, hint: t('sync.fingerprint_hint'), attrs: { spellcheck: 'false' } }),
      field({ name: 'code', label: t('sync.code'), required: true, hint: t('sync.code_hint'), attrs: { spellcheck: 'false' } })),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('sync.pair')),
      h('span', { class: 'muted', id: 'sync-pair-progress', 'aria-live': 'polite' })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const body = { central_url: v.central_url.trim(), fingerprint: v.fingerprint.trim(), code: v.code.trim() };
    const missing = Object.entries(body).filter(([, x]) => !x).map(([k]) => ({ field: k, reason: 'is required' }));
    if (missing.length) {
      showErrors(form, { fields: missing });
      return;
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    const progress = form.querySelector('#sync-pair-progress');
    progress.textContent = t('sync.pairing_now');
    try {
      await api('POST', '/api/v1/sync/pair', { body });
      form.reset();
      announce(t('sync.paired'));
      await after();
    } catch (err) {
      showErrors(form, err);
    } finally {
      progress.textContent = '';
      btn.disabled = false;
    }
  });
  return form;
}

/* --- site: sync now ---------------------------------------------------------------------------------------- */
function outcomeOf(r, status) {
  const d = r.details || {};
  if (r.status === 'failed') return notice(t('sync.run_failed', { error: r.error || '' }), 'bad');
  if (r.status !== 'ok') return notice(t('sync.run_ended', { status: t(`jobs.status.${r.status}`) }), 'bad');
  if (d.link_down) {
    return notice(t('sync.run_link_down', { error: (status && status.last_error) || '' }), 'warn');
  }
  return notice(t('sync.run_ok', {
    pulled: number(d.pulled || 0), received: number(d.rows_received || 0),
    pushed: number(d.pushed || 0), sent: number(d.rows_sent || 0),
  }), 'ok');
}

function syncNow(ctx, box, after) {
  let timer = null;
  ctx.onLeave(() => clearInterval(timer));

  async function follow(runId) {
    const text = h('span', null, t('sync.running'));
    replace(box, h('div', { class: 'progress' }, h('progress', { 'aria-label': t('sync.running') }), text));
    await new Promise((resolve) => {
      const tick = async () => {
        if (!ctx.live()) { clearInterval(timer); resolve(); return; }
        try {
          const runs = await api('GET', '/api/v1/jobs/sync/runs', { query: { limit: 5 } });
          const r = runs.items.find((x) => x.id === runId);
          if (!r || r.status === 'running') return;
          clearInterval(timer);
          const status = await after();
          replace(box, outcomeOf(r, status));
          box.dataset.status = r.status === 'ok' && r.details && r.details.link_down ? 'link_down' : r.status;
          announce(r.status === 'ok' ? t('sync.run_done') : t('sync.run_failed_short'));
          resolve();
        } catch (e) {
          clearInterval(timer);
          replace(box, notice(errorText(e), 'bad'));
          box.dataset.status = 'error';
          resolve();
        }
      };
      timer = setInterval(tick, POLL_MS);
      tick();
    });
  }

  return button(t('sync.now'), (e) => busy(e.currentTarget, async () => {
    delete box.dataset.status;
    try {
      const r = await api('POST', '/api/v1/jobs/sync/run', { body: {} });
      announce(t('sync.started'));
      await follow(r.run_id);
    } catch (err) {
      if (err.code === 'conflict') alertMessage(t('sync.already_running'));
      else throw err;
    }
  }), { kind: 'primary', attrs: { id: 'sync-now' } });
}

/* --- bundles --------------------------------------------------------------------------------------------- */
function bundlesCard(s, after) {
  const canExport = can('GET', '/api/v1/sync/export') && s.role === 'site';
  const canImport = can('POST', '/api/v1/sync/import') && s.role !== 'none';
  if (!canExport && !canImport) return null;
  const exportBox = h('div', { id: 'sync-export-result', 'aria-live': 'polite' });
  const importBox = h('div', { id: 'sync-import-result', 'aria-live': 'polite' });
  const parts = [];
  if (canExport) {
    parts.push(h('h3', null, t('sync.export')), h('p', { class: 'muted' }, t('sync.export_intro')),
      h('div', { class: 'form-actions' }, button(t('sync.download_bundle'), (e) => busy(e.currentTarget, async () => {
        replace(exportBox, h('p', { class: 'muted' }, t('sync.exporting')));
        try {
          const { filename, blob } = await download('/api/v1/sync/export', { fallbackName: 'gatehouse-sync.ghsync' });
          replace(exportBox, notice(t('sync.exported', { name: filename, size: bytes(blob.size) }), 'ok'));
          announce(t('sync.exported_short', { name: filename }));
        } catch (err) {
          replace(exportBox, notice(syncError(err), 'bad'));
        }
      }), { attrs: { id: 'sync-export' } })), exportBox);
  }
  if (canImport) {
    const input = h('input', { type: 'file', id: 'sync-import-file', name: 'bundle', accept: '.ghsync,application/octet-stream' });
    const prog = h('progress', { max: 100, value: 0, 'aria-label': t('sync.uploading') });
    const progBox = h('div', { class: 'progress', hidden: true }, prog, h('span', { 'aria-live': 'polite' }));
    const go = button(t('sync.import'), (e) => busy(e.currentTarget, async () => {
      const file = input.files[0];
      if (!file) {
        replace(importBox, notice(t('sync.choose_file'), 'bad'));
        input.focus();
        return;
      }
      delete importBox.dataset.status;
      progBox.hidden = false;
      prog.value = 0;
      const label = progBox.querySelector('span');
      try {
        const r = await api('POST', '/api/v1/sync/import', {
          body: file, contentType: 'application/octet-stream', upload: true,
          onProgress: (loaded, total, phase) => {
            if (phase === 'processing') { prog.removeAttribute('value'); label.textContent = t('sync.applying'); } else if (total) {
              prog.value = Math.round((loaded / total) * 100);
              label.textContent = `${prog.value}%`;
            }
          },
        });
        replace(importBox, r.status === 'applied'
          ? notice(t('sync.import_applied', { n: number(r.applied), m: number(r.changesets), rows: number(r.rows), name: file.name }), 'ok')
          : notice(t('sync.import_already', { name: file.name }), 'warn'),
        h('p', { class: 'hint' }, t('sync.import_reply')));
        importBox.dataset.status = r.status;
        announce(r.status === 'applied' ? t('sync.import_done') : t('sync.import_nothing'));
        await after();
      } catch (err) {
        replace(importBox, notice(err instanceof ApiError && err.code === 'bundle_refused'
          ? t('sync.import_refused', { name: file.name, message: err.message }) : syncError(err), 'bad'));
        importBox.dataset.status = 'refused';
        announce(t('sync.import_refused_short'));
      } finally {
        progBox.hidden = true;
      }
    }), { kind: 'primary', attrs: { id: 'sync-import' } });
    parts.push(h('h3', null, t('sync.import_title')), h('p', { class: 'muted' }, s.role === 'site' ? t('sync.import_intro_site') : t('sync.import_intro_central')),
      h('div', { class: 'field' }, h('label', { for: 'sync-import-file' }, t('sync.bundle_file')), input),
      h('div', { class: 'form-actions' }, go), progBox, importBox);
  }
  return h('section', { class: 'card', 'aria-labelledby': 'sync-bundles-title', id: 'sync-bundles' },
    h('h2', { id: 'sync-bundles-title' }, t('sync.bundles')), h('p', { class: 'muted' }, t('sync.bundles_intro')), parts);
}

/* --- the page ------------------------------------------------------------------------------------------------- */
export async function page(ctx) {
  const statusBox = h('div', { id: 'sync-status-box' });
  const runBox = h('div', { id: 'sync-run', 'aria-live': 'polite' });
  const rest = h('div', { id: 'sync-sections' });
  let s = await api('GET', '/api/v1/sync/status');
  let shownRole = null;

  async function refresh() {
    s = await api('GET', '/api/v1/sync/status');
    if (s.role !== shownRole) {
      // Paired just now (or the last pairing revoked): the page changes shape.
      await syncChanged(s);
      ctx.rerender();
      return s;
    }
    drawStatus();
    if (pairings) await pairings.load();
    return s;
  }

  let pairings = null;
  shownRole = s.role;
  const nowBtn = s.role === 'site' && can('POST', '/api/v1/jobs/{name}/run') ? syncNow(ctx, runBox, refresh) : null;
  const drawStatus = () => replace(statusBox, statusCard(s), s.role === 'site' ? siteStreams(s.streams) : null);
  drawStatus();
  const sections = [];
  if (s.role !== 'site' && can('GET', '/api/v1/sync/pairings')) {
    pairings = pairingsSection(refresh);
    sections.push(pairings.section);
  }
  if (s.role === 'none' && can('POST', '/api/v1/sync/pair')) sections.push(pairForm(refresh));
  sections.push(bundlesCard(s, refresh));
  replace(rest, sections);
  const owned = s.role === 'site' ? h('div', { class: 'notice warn', id: 'sync-owned' },
    h('p', null, t('sync.owned_text')),
    s.central && s.central.url ? h('p', null, t('sync.owned_where'), ' ', h('span', { class: 'mono' }, s.central.url)) : null) : null;
  add(ctx.main, pageHead(t('nav.sync'), nowBtn), h('p', { class: 'muted' }, t('sync.intro')), owned, runBox, statusBox, rest);
  if (pairings) await pairings.load();
}
