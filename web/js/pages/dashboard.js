// Dashboard: the appliance, terminals online and offline, doors, jobs.
// Live events, alerts, backups and disk use have marked slots: the API of
// this version has none of them, and the console shows no made-up data.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { dateTime, duration, number } from '../fmt.js';
import { can, pageHead, badge, table, errorText, link } from '../ui.js';
import { store, lookup, nameOf } from '../store.js';

const REFRESH_MS = 15000;

function card(title, id, ...body) {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

function slot(title, id, text) {
  return h('section', { class: 'card slot', 'aria-labelledby': id, dataset: { slot: id } },
    h('h2', { id }, title), h('p', null, text));
}

export function statusBadge(status) {
  if (status == null) return badge(t('jobs.never_run'));
  const kind = status === 'ok' ? 'ok' : status === 'running' ? 'warn' : 'bad';
  return badge(t(`jobs.status.${status}`), kind);
}

async function appliance() {
  const [health, ready] = await Promise.all([
    fetch('/healthz', { cache: 'no-store' }).then((r) => r.json()).catch(() => null),
    fetch('/readyz', { cache: 'no-store' }).then((r) => r.json().then((d) => ({ ok: r.ok, ...d }))).catch(() => null),
  ]);
  return h('dl', { class: 'facts' },
    h('dt', null, t('status.health')),
    h('dd', { class: health ? 'ok' : 'bad' }, health ? t('status.ok') : t('status.unreachable')),
    h('dt', null, t('status.ready')),
    h('dd', { class: ready && ready.ok ? 'ok' : 'bad' }, ready ? (ready.ok ? t('status.ready_ok') : t('status.not_ready')) : t('status.unreachable')),
    h('dt', null, t('status.version')), h('dd', null, health ? health.version : '…'),
    h('dt', null, t('status.uptime')), h('dd', null, health ? duration(health.uptime_s * 1000) : '…'));
}

async function terminals() {
  const page = await api('GET', '/api/v1/devices', { query: { limit: 500 } });
  const items = page.items;
  const online = items.filter((d) => d.online).length;
  const active = items.filter((d) => d.status === 'active');
  const offline = active.filter((d) => !d.online);
  const pending = items.filter((d) => d.status === 'pending').length;
  return [
    h('div', { class: 'stats' },
      h('p', { class: 'stat' }, h('span', { class: 'big ok', id: 'dash-online' }, number(online)), h('span', { class: 'muted' }, t('dash.online'))),
      h('p', { class: 'stat' }, h('span', { class: ['big', offline.length ? 'bad' : ''], id: 'dash-offline' }, number(offline.length)), h('span', { class: 'muted' }, t('dash.offline'))),
      h('p', { class: 'stat' }, h('span', { class: 'big' }, number(pending)), h('span', { class: 'muted' }, t('dash.pending')))),
    offline.length ? h('ul', null, offline.slice(0, 8).map((d) => h('li', null,
      link(`#/terminals/${d.id}`, d.name), ' · ', t('terminals.last_seen'), ': ', dateTime(d.last_seen_at)))) : null,
    page.next_cursor ? h('p', { class: 'hint' }, t('dash.first_500')) : null,
    h('p', null, link('#/terminals', t('dash.all_terminals'))),
  ];
}

async function doors() {
  const [page, devices, sites] = await Promise.all([
    api('GET', '/api/v1/doors', { query: { limit: 20 } }),
    lookup('devices'),
    lookup('sites'),
  ]);
  return [
    table({
      caption: t('dash.doors'),
      columns: [
        { label: t('doors.name'), cell: (d) => d.name },
        { label: t('doors.site'), cell: (d) => nameOf(sites, d.site_id) },
        { label: t('doors.terminal'), cell: (d) => (d.terminal_id ? nameOf(devices, d.terminal_id) : t('common.none')) },
        {
          label: t('dash.terminal_link'),
          cell: (d) => {
            const dev = devices.byId.get(d.terminal_id);
            if (!dev) return '—';
            return dev.online ? badge(t('terminals.online'), 'ok') : badge(t('terminals.offline'), 'bad');
          },
        },
      ],
      rows: page.items,
      empty: t('dash.no_doors'),
    }),
    h('p', { class: 'hint' }, t('dash.door_state_later')),
  ];
}

async function jobs() {
  const page = await api('GET', '/api/v1/jobs');
  return h('ul', { class: 'plain' }, page.items.map((j) => h('li', null,
    h('p', { class: 'spread' }, link(`#/jobs/${encodeURIComponent(j.name)}`, j.name),
      j.running ? h('progress', { max: 1, value: j.progress || 0, 'aria-label': t('jobs.progress_of', { name: j.name }) }) : statusBadge(j.last_status)),
    h('p', { class: 'hint' }, `${t('jobs.last_run')}: ${dateTime(j.last_finished_at || j.last_started_at)} · ${t('jobs.next_run')}: ${j.enabled ? dateTime(j.next_run_at) : t('jobs.off')}`))));
}

/* Fills a card body; an error stays inside its card. */
async function fill(el, fn) {
  try {
    replace(el, await fn());
  } catch (e) {
    replace(el, h('p', { class: 'bad' }, errorText(e)));
  }
}

export async function page(ctx) {
  const applianceBody = h('div');
  const terminalsBody = h('div');
  const doorsBody = h('div');
  const jobsBody = h('div');
  const canJobs = can('GET', '/api/v1/jobs');
  add(ctx.main, 
    pageHead(t('nav.dashboard')),
    h('div', { class: 'cards' },
      card(t('dash.terminals'), 'dash-terminals', terminalsBody),
      card(t('status.title'), 'dash-appliance', applianceBody),
      canJobs ? card(t('nav.jobs'), 'dash-jobs', jobsBody) : null,
      card(t('dash.session'), 'dash-session', h('dl', { class: 'facts' },
        h('dt', null, t('admins.username')), h('dd', null, store.me.username),
        h('dt', null, t('admins.role')), h('dd', null, t(`role.${store.me.role}`)),
        h('dt', null, t('account.totp')), h('dd', null, store.me.totp_enabled ? t('account.totp_on') : t('account.totp_off'))))),
    card(t('dash.doors'), 'dash-doors', doorsBody),
    h('div', { class: 'cards' },
      slot(t('dash.events'), 'events', t('dash.slot_events')),
      slot(t('dash.alerts'), 'alerts', t('dash.slot_alerts')),
      slot(t('dash.backups'), 'backups', t('dash.slot_backups')),
      slot(t('dash.disk'), 'disk', t('dash.slot_disk'))));
  const loadAll = () => Promise.all([
    fill(applianceBody, appliance),
    fill(terminalsBody, terminals),
    fill(doorsBody, doors),
    canJobs ? fill(jobsBody, jobs) : null,
  ]);
  await loadAll();
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && ctx.live()) {
      fill(terminalsBody, terminals);
      if (canJobs) fill(jobsBody, jobs);
    }
  }, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
}
