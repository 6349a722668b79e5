// People: exact search (personal fields are encrypted, so lookups are
// exact: e-mail, employee number, card), a paged list, export to CSV or
// XLSX, and the CSV import with its dry-run report.

import { add, h, replace, saveBlob } from '../dom.js';
import { t } from '../i18n.js';
import { api, download } from '../api.js';
import { bytes, number } from '../fmt.js';
import {
  can, pageHead, table, pager, field, button, busy, announce, notice, errorText, link, badge, alertMessage,
} from '../ui.js';
import { lookup, nameOf, invalidate, store } from '../store.js';

// The search stays in memory while the console runs (never in the URL:
// an e-mail or card number has no place in the browser history).
const search = { by: 'email', value: '', status: '', group: '' };

export function credentialSummary(creds) {
  if (!creds || !creds.length) return t('common.none');
  return creds.map((c) => `${t(`cred.kind.${c.kind}`)} ${c.kind === 'card' || c.kind === 'mobile' ? c.hint : ''}${c.status !== 'active' ? ` (${t(`cred.status.${c.status}`)})` : ''}`.trim()).join(', ');
}

export function personStatus(status) {
  return badge(t(`people.status.${status}`), status === 'active' ? 'ok' : 'warn');
}

export async function exportButtons() {
  if (!can('GET', '/api/v1/people/export')) return [];
  const run = (format) => async (e) => busy(e.currentTarget, async () => {
    announce(t('people.export_started', { format: format.toUpperCase() }));
    const { blob, filename } = await download('/api/v1/people/export', {
      query: { format }, fallbackName: `people.${format}`,
      onProgress: (n) => { document.getElementById('export-progress').textContent = t('people.export_progress', { size: bytes(n) }); },
    });
    document.getElementById('export-progress').textContent = t('people.export_done', { name: filename, size: bytes(blob.size) });
    announce(t('people.export_done', { name: filename, size: bytes(blob.size) }));
  });
  return [
    button(t('people.export_csv'), run('csv'), { attrs: { id: 'export-csv' } }),
    button(t('people.export_xlsx'), run('xlsx'), { attrs: { id: 'export-xlsx' } }),
  ];
}

export async function list(ctx) {
  const query = (cursor) => {
    const q = { limit: 50, cursor, status: search.status, group: search.group };
    if (search.value) q[search.by] = search.value;
    return q;
  };
  // The first page is asked for beside the groups, not after them.
  let primed = api('GET', '/api/v1/people', { query: query(null) });
  primed.catch(() => {});
  const groups = await lookup('groups');
  const results = h('div', { id: 'people-results' });
  const actions = [];
  if (can('POST', '/api/v1/people')) actions.push(h('a', { class: 'button primary', href: '#/people/new' }, t('people.new')));
  if (can('POST', '/api/v1/people/import')) actions.push(h('a', { class: 'button', href: '#/people/import' }, t('nav.import')));
  actions.push(...await exportButtons());

  const form = h('form', { class: 'search', role: 'search', 'aria-label': t('people.search') },
    field({ name: 'by', label: t('people.find_by'), type: 'select', value: search.by,
      options: [['email', t('people.email')], ['employee_no', t('people.employee_no')], ['card', t('people.card')]].map(([value, label]) => ({ value, label })) }),
    field({ name: 'value', label: t('people.exact_value'), value: search.value, hint: t('people.exact_hint'), type: 'search' }),
    field({ name: 'status', label: t('people.status'), type: 'select', value: search.status,
      options: [{ value: '', label: t('common.any') }, { value: 'active', label: t('people.status.active') }, { value: 'suspended', label: t('people.status.suspended') }] }),
    field({ name: 'group', label: t('people.group'), type: 'select', value: search.group,
      options: [{ value: '', label: t('common.any') }, ...groups.items.map((g) => ({ value: String(g.id), label: g.name }))] }),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'primary' }, t('people.search_button')),
      button(t('people.clear'), () => {
        Object.assign(search, { by: 'email', value: '', status: '', group: '' });
        form.elements.by.value = 'email';
        form.elements.value.value = '';
        form.elements.status.value = '';
        form.elements.group.value = '';
        p.first();
      })));

  const p = pager({
    label: t('people.pages'),
    load: async (cursor) => {
      const first = primed;
      primed = null;
      try {
        return await (first && cursor == null ? first : api('GET', '/api/v1/people', { query: query(cursor) }));
      } catch (e) {
        replace(results, notice(errorText(e), 'bad'));
        return { items: null, next_cursor: null };
      }
    },
    render: (items) => {
      if (!items) return;
      replace(results, table({
        caption: t('nav.people'),
        columns: [
          { label: t('people.name'), cell: (r) => link(`#/people/${r.id}`, r.name) },
          { label: t('people.email'), cell: (r) => r.email || '' },
          { label: t('people.employee_no'), cell: (r) => r.employee_no || '' },
          { label: t('people.status'), cell: (r) => personStatus(r.status) },
          { label: t('people.groups'), cell: (r) => r.group_ids.map((g) => nameOf(groups, g)).join(', ') },
          { label: t('people.credentials'), cell: (r) => credentialSummary(r.credentials) },
        ],
        rows: items,
        empty: search.value ? t('people.none_found') : t('people.none'),
      }));
    },
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    Object.assign(search, {
      by: form.elements.by.value, value: form.elements.value.value.trim(),
      status: form.elements.status.value, group: form.elements.group.value,
    });
    p.first().then(() => announce(t('people.searched')));
  });

  // A site appliance: its people are the central's (changes here are refused with the central's address).
  const onSite = store.sync && store.sync.role === 'site'
    ? h('p', { class: 'notice warn', id: 'people-on-site' }, t('people.on_site', { url: (store.sync.central && store.sync.central.url) || '' }), ' ',
      link('#/sync', t('nav.sync')))
    : null;
  add(ctx.main, 
    pageHead(t('nav.people'), ...actions),
    onSite,
    h('p', { id: 'export-progress', class: 'muted', 'aria-live': 'polite' }),
    form, results, p.el);
  await p.first();
}

/* --- CSV import ----------------------------------------------------------------------------- */
const COLUMNS = ['name', 'email', 'phone', 'employee_no', 'status', 'valid_from', 'valid_until', 'card', 'groups', 'notes'];

function reportView(report, dryRun) {
  const ok = report.invalid === 0 && report.error_count === 0;
  return h('section', { class: 'card', id: 'import-report', 'aria-labelledby': 'import-report-title' },
    h('h2', { id: 'import-report-title' }, dryRun ? t('import.report_dry') : t('import.report')),
    h('dl', { class: 'facts' },
      h('dt', null, t('import.rows')), h('dd', { dataset: { k: 'rows' } }, number(report.rows)),
      h('dt', null, t('import.valid')), h('dd', { dataset: { k: 'valid' } }, number(report.valid)),
      h('dt', null, t('import.invalid')), h('dd', { dataset: { k: 'invalid' }, class: report.invalid ? 'bad' : '' }, number(report.invalid)),
      h('dt', null, t('import.imported')), h('dd', { dataset: { k: 'imported' } }, number(report.imported))),
    ok ? notice(dryRun ? t('import.dry_ok', { n: number(report.valid) }) : t('import.done', { n: number(report.imported) }), 'ok')
      : notice(dryRun ? t('import.dry_bad', { n: number(report.error_count) }) : t('import.apply_bad', { n: number(report.error_count) }), 'bad'),
    report.errors.length ? table({
      caption: t('import.errors'),
      columns: [
        { label: t('import.line'), cell: (e) => String(e.line), num: true },
        { label: t('import.field'), cell: (e) => e.field },
        { label: t('import.reason'), cell: (e) => e.reason },
      ],
      rows: report.errors,
    }) : null,
    report.error_count > report.errors.length ? h('p', { class: 'hint' }, t('import.more_errors', { n: number(report.error_count - report.errors.length) })) : null);
}

export async function importPage(ctx) {
  let file = null;
  let checked = false;
  const out = h('div');
  const prog = h('progress', { max: 100, value: 0, id: 'import-progress', 'aria-labelledby': 'import-progress-label' });
  const progLabel = h('span', { id: 'import-progress-label', 'aria-live': 'polite' });
  const progBox = h('div', { class: 'progress', hidden: true }, prog, progLabel);
  const input = h('input', { type: 'file', id: 'import-file', name: 'file', accept: '.csv,text/csv' });
  const checkBtn = button(t('import.check'), () => run(true), { kind: 'primary', attrs: { id: 'import-check', disabled: true } });
  const applyBtn = button(t('import.apply'), () => run(false), { attrs: { id: 'import-apply', disabled: true } });

  input.addEventListener('change', () => {
    file = input.files[0] || null;
    checked = false;
    checkBtn.disabled = !file;
    applyBtn.disabled = true;
    replace(out);
    if (file) announce(t('import.file_chosen', { name: file.name, size: bytes(file.size) }));
  });

  async function run(dryRun) {
    if (!file) return;
    checkBtn.disabled = true;
    applyBtn.disabled = true;
    progBox.hidden = false;
    prog.value = 0;
    progLabel.textContent = t('import.uploading', { pct: 0 });
    try {
      const res = await api('POST', '/api/v1/people/import', {
        body: file, contentType: 'text/csv', query: { dry_run: dryRun ? 'true' : 'false' },
        upload: true, raw: true, rawStatuses: [400],
        onProgress: (loaded, total, phase) => {
          if (phase === 'processing') {
            prog.removeAttribute('value'); // indeterminate while the appliance works
            progLabel.textContent = dryRun ? t('import.checking') : t('import.importing');
          } else if (total) {
            const pct = Math.round((loaded / total) * 100);
            prog.value = pct;
            progLabel.textContent = t('import.uploading', { pct });
          }
        },
      });
      const report = await res.json();
      if (!report || typeof report.rows !== 'number') throw new Error(errorText(report));
      prog.value = 100;
      progLabel.textContent = t('import.finished');
      replace(out, reportView(report, dryRun));
      checked = dryRun && report.invalid === 0 && report.error_count === 0 && report.rows > 0;
      applyBtn.disabled = !checked;
      if (!dryRun && report.imported) {
        invalidate('groups');
        applyBtn.disabled = true;
        out.append(h('p', null, link('#/people', t('import.see_people'))));
      }
      announce(dryRun ? t('import.report_dry') : t('import.report'));
    } catch (e) {
      progBox.hidden = true;
      replace(out, notice(errorText(e), 'bad'));
      alertMessage(errorText(e));
    } finally {
      checkBtn.disabled = !file;
      if (!checked) applyBtn.disabled = true;
    }
  }

  const template = button(t('import.template'), () => {
    const csv = `\uFEFF${COLUMNS.join(',')}\r\n${t('import.template_row')}\r\n`;
    saveBlob(new Blob([csv], { type: 'text/csv' }), 'people-template.csv');
  });

  add(ctx.main, 
    pageHead(t('import.title')),
    h('section', { class: 'card' },
      h('p', null, t('import.intro')),
      h('p', null, t('import.columns'), ' ', h('span', { class: 'mono' }, COLUMNS.join(', '))),
      h('p', { class: 'hint' }, t('import.rules')),
      h('div', { class: 'field' }, h('label', { for: 'import-file' }, t('import.file')), input),
      h('div', { class: 'form-actions' }, checkBtn, applyBtn, template),
      progBox),
    out);
}
