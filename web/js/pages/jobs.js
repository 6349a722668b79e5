// Scheduled jobs: schedule, next run, last outcome; run now; each job's
// runs with their progress, refreshed while one is running.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { dateTime, duration } from '../fmt.js';
import { can, pageHead, table, pager, button, busy, announce, notice, errorText, link } from '../ui.js';
import { statusBadge } from './dashboard.js';

const POLL_MS = 2000;

function schedule(j) {
  return j.enabled ? h('span', { class: 'mono' }, j.schedule) : t('jobs.off');
}

function runButton(name, after) {
  if (!can('POST', '/api/v1/jobs/{name}/run')) return null;
  return button(t('jobs.run_now'), (e) => busy(e.currentTarget, async () => {
    const r = await api('POST', `/api/v1/jobs/${encodeURIComponent(name)}/run`, { body: {} });
    announce(t('jobs.started', { name, id: r.run_id }));
    await after();
  }), { kind: 'small', attrs: { dataset: { run: name }, 'aria-label': t('jobs.run_named', { name }) } });
}

function details(d) {
  const entries = Object.entries(d || {});
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(', ') : '';
}

export async function list(ctx) {
  const box = h('div', { id: 'jobs-list' });
  let timer = null;
  ctx.onLeave(() => { if (timer) clearInterval(timer); });
  async function load() {
    try {
      const page = await api('GET', '/api/v1/jobs');
      replace(box, table({
        caption: t('nav.jobs'),
        columns: [
          { label: t('jobs.name'), cell: (j) => link(`#/jobs/${encodeURIComponent(j.name)}`, j.name) },
          { label: t('jobs.summary'), cell: (j) => j.summary },
          { label: t('jobs.schedule'), cell: schedule },
          { label: t('jobs.next_run'), cell: (j) => (j.enabled ? dateTime(j.next_run_at) : '—') },
          { label: t('jobs.last'), cell: (j) => (j.running ? h('div', { class: 'progress' }, h('progress', { max: 1, value: j.progress || 0, 'aria-label': t('jobs.progress_of', { name: j.name }) }), t('jobs.status.running')) : statusBadge(j.last_status)) },
          { label: t('jobs.last_run'), cell: (j) => dateTime(j.last_started_at) },
          { label: t('jobs.duration'), cell: (j) => duration(j.last_duration_ms), num: true },
          { label: t('jobs.error'), cell: (j) => j.last_error || '' },
          { label: t('common.actions'), actions: true, cell: (j) => (j.running ? '' : runButton(j.name, load)) },
        ],
        rows: page.items,
      }));
      const running = page.items.some((j) => j.running);
      if (running && !timer) timer = setInterval(() => { if (ctx.live()) load(); }, POLL_MS);
      if (!running && timer) { clearInterval(timer); timer = null; }
    } catch (e) {
      replace(box, notice(errorText(e), 'bad'));
    }
  }
  add(ctx.main, pageHead(t('nav.jobs')), h('p', { class: 'muted' }, t('jobs.intro')), box,
    can('GET', '/api/v1/backups') ? h('p', { class: 'hint' }, t('jobs.backups_page'), ' ', link('#/backups', t('nav.backups'))) : null);
  await load();
}

export async function runs(ctx) {
  const name = ctx.params.name;
  const info = h('div');
  const box = h('div', { id: 'runs-list' });
  let timer = null;
  ctx.onLeave(() => { if (timer) clearInterval(timer); });

  async function loadJob() {
    const jobs = await api('GET', '/api/v1/jobs');
    const j = jobs.items.find((x) => x.name === name);
    if (!j) throw new Error(t('jobs.unknown', { name }));
    replace(info, h('section', { class: 'card' },
      h('p', null, j.summary),
      h('dl', { class: 'facts' },
        h('dt', null, t('jobs.schedule')), h('dd', null, schedule(j)),
        h('dt', null, t('jobs.next_run')), h('dd', null, j.enabled ? dateTime(j.next_run_at) : '—'),
        h('dt', null, t('jobs.last')), h('dd', null, statusBadge(j.running ? 'running' : j.last_status)),
        h('dt', null, t('jobs.last_ok')), h('dd', null, dateTime(j.last_ok_at))),
      h('div', { class: 'form-actions' }, j.running ? null : runButton(name, () => p.first()))));
    return j;
  }

  const p = pager({
    label: t('jobs.runs'),
    load: (cursor) => api('GET', `/api/v1/jobs/${encodeURIComponent(name)}/runs`, { query: { limit: 20, cursor } }),
    render: async (items) => {
      replace(box, table({
        caption: t('jobs.runs'),
        columns: [
          { label: t('jobs.run'), cell: (r) => String(r.id), num: true },
          { label: t('jobs.trigger'), cell: (r) => t(`jobs.trigger.${r.trigger}`) },
          { label: t('jobs.started_by'), cell: (r) => r.started_by || t('jobs.scheduler') },
          { label: t('jobs.started_at'), cell: (r) => dateTime(r.started_at) },
          { label: t('jobs.finished_at'), cell: (r) => (r.finished_at ? dateTime(r.finished_at) : '') },
          { label: t('jobs.status'), cell: (r) => (r.status === 'running' ? h('div', { class: 'progress' }, h('progress', { max: 1, value: r.progress, 'aria-label': t('jobs.progress_of', { name }) }), `${Math.round(r.progress * 100)}%`) : h('span', { dataset: { run: String(r.id), status: r.status } }, statusBadge(r.status))) },
          { label: t('jobs.duration'), cell: (r) => duration(r.duration_ms), num: true },
          { label: t('jobs.error'), cell: (r) => r.error || '' },
          { label: t('jobs.details'), cell: (r) => details(r.details) },
        ],
        rows: items,
        empty: t('jobs.no_runs'),
      }));
      const running = items.some((r) => r.status === 'running');
      if (running && !timer) {
        timer = setInterval(async () => {
          if (!ctx.live()) return;
          await p.reload();
        }, POLL_MS);
      }
      if (!running && timer) {
        clearInterval(timer);
        timer = null;
        await loadJob();
      }
    },
  });
  add(ctx.main, h('p', null, link('#/jobs', t('jobs.back'))), pageHead(t('jobs.title', { name })), info, h('h2', null, t('jobs.runs')), box, p.el);
  await loadJob();
  await p.first();
}
