// Dashboard: terminals online and offline, doors with their state, the
// live event stream (newest on top), open alerts to acknowledge, the last
// backups and the jobs, disk use and the appliance's health. Lists refresh
// every few seconds while the page is shown; events and alerts arrive
// through the live stream as soon as they are stored.

import { add, h, replace } from '../dom.js';
import { t, tOr } from '../i18n.js';
import { api } from '../api.js';
import { dateTime, duration, number, bytes } from '../fmt.js';
import { can, role, pageHead, badge, table, errorText, link, button, busy, announce } from '../ui.js';
import { store, lookup, nameOf } from '../store.js';
import { openStream } from '../live.js';
import { eventRow, kindText, resultBadge } from './events.js';
import { severityBadge, stateBadge } from './alerts.js';

const REFRESH_MS = 10000;
const LIVE_MAX = 25;

function card(title, id, ...body) {
  return h('section', { class: 'card', 'aria-labelledby': id, id: `${id}-card` }, h('h2', { id }, title), ...body);
}

export function statusBadge(status) {
  if (status == null) return badge(t('jobs.never_run'));
  const kind = status === 'ok' ? 'ok' : status === 'running' ? 'warn' : 'bad';
  return badge(t(`jobs.status.${status}`), kind);
}

/* --- the appliance ---------------------------------------------------------------------------- */
function appliance(sys) {
  const facts = [
    h('dt', null, t('status.version')), h('dd', null, sys.version),
    h('dt', null, t('status.uptime')), h('dd', null, duration(sys.uptime_s * 1000)),
  ];
  if (sys.database) {
    facts.push(h('dt', null, t('system.database')), h('dd', null, bytes(sys.database.size_bytes)),
      h('dt', null, t('system.keystore')), h('dd', null, bytes(sys.database.keystore_bytes)));
  }
  const people = sys.people.reduce((n, p) => n + p.people, 0);
  facts.push(h('dt', null, t('system.people')), h('dd', { id: 'dash-people' }, number(people)));
  return h('dl', { class: 'facts' }, facts);
}

function disk(sys) {
  const d = sys.disk;
  if (!d || d.total_bytes == null) return h('p', { class: 'muted' }, t('system.disk_unknown'));
  const used = d.total_bytes - d.available_bytes;
  const low = d.min_free_bytes > 0 && d.available_bytes < d.min_free_bytes;
  return [
    h('p', { class: 'stat' },
      h('span', { class: ['big', low ? 'bad' : 'ok'], id: 'dash-disk-free' }, bytes(d.available_bytes)),
      h('span', { class: 'muted' }, t('system.disk_free', { total: bytes(d.total_bytes) }))),
    h('progress', { max: d.total_bytes, value: used, 'aria-label': t('system.disk_used', { pct: Math.round((100 * used) / d.total_bytes) }) }),
    h('p', { class: 'hint' }, t('system.disk_path', { path: d.path })),
    h('p', { class: low ? 'bad' : 'hint' }, t('system.disk_min', { min: bytes(d.min_free_bytes) })),
  ];
}

function backups(sys) {
  return [
    h('ul', { class: 'plain', id: 'dash-backups' }, sys.backups.map((b) => h('li', { dataset: { kind: b.kind } },
      h('p', { class: 'spread' }, h('strong', null, t(`backups.kind.${b.kind}`)), statusBadge(b.last_status)),
      h('p', { class: 'hint' }, `${t('backups.last_ok')}: ${dateTime(b.last_ok_at)} · ${t('jobs.next_run')}: ${b.next_run_at ? dateTime(b.next_run_at) : t('jobs.off')}`),
      b.last_status === 'failed' && b.last_error ? h('p', { class: 'bad' }, b.last_error) : null))),
    sys.recovery_key && !sys.recovery_key.exported
      ? h('p', { class: 'warn' }, t('backups.recovery_not_exported_short')) : null,
    h('p', null, link('#/backups', t('dash.all_backups'))),
  ];
}

function terminals(sys) {
  const tm = sys.terminals;
  const active = tm.total - tm.pending - tm.disabled;
  const offline = Math.max(0, active - tm.online);
  return [
    h('div', { class: 'stats' },
      h('p', { class: 'stat' }, h('span', { class: 'big ok', id: 'dash-online' }, number(tm.online)), h('span', { class: 'muted' }, t('dash.online'))),
      h('p', { class: 'stat' }, h('span', { class: ['big', offline ? 'bad' : ''], id: 'dash-offline' }, number(offline)), h('span', { class: 'muted' }, t('dash.offline'))),
      h('p', { class: 'stat' }, h('span', { class: 'big' }, number(tm.pending)), h('span', { class: 'muted' }, t('dash.pending')))),
    h('p', null, link('#/terminals', t('dash.all_terminals'))),
  ];
}

/* --- doors ----------------------------------------------------------------------------------------- */
function doorState(d) {
  if (d.lockdown) return badge(t('doors.state.lockdown'), 'bad');
  if (!d.state) return h('span', { class: 'muted' }, t('doors.state.unknown'));
  const kind = d.state === 'closed' ? 'ok' : d.state === 'open' ? 'warn' : 'bad';
  return badge(t(`doors.state.${d.state}`), kind);
}

async function doors() {
  const [page, sites, devices] = await Promise.all([
    api('GET', '/api/v1/doors/status', { query: { limit: 50 } }),
    lookup('sites'),
    lookup('devices'),
  ]);
  return [
    table({
      caption: t('dash.doors'),
      columns: [
        { label: t('doors.name'), cell: (d) => h('span', { dataset: { door: String(d.door_id) } }, d.name) },
        { label: t('doors.site'), cell: (d) => nameOf(sites, d.site_id) },
        { label: t('doors.terminal'), cell: (d) => (d.terminal_id ? link(`#/terminals/${d.terminal_id}`, nameOf(devices, d.terminal_id)) : t('common.none')) },
        {
          label: t('dash.terminal_link'),
          cell: (d) => (d.terminal_id == null ? '—' : d.terminal_online ? badge(t('terminals.online'), 'ok') : badge(t('terminals.offline'), 'bad')),
        },
        { label: t('doors.state'), cell: (d) => h('span', { class: 'door-state' }, doorState(d), d.state_at ? h('span', { class: 'hint' }, ` ${dateTime(d.state_at)}`) : null) },
        {
          label: t('doors.last_event'),
          cell: (d) => (d.last_event ? [kindText(d.last_event.kind), ' ', d.last_event.result ? resultBadge(d.last_event.result) : null,
            h('span', { class: 'hint' }, ` ${dateTime(d.last_event.at)}`)] : t('common.none')),
        },
      ],
      rows: page.items,
      empty: t('dash.no_doors'),
    }),
    page.next_cursor ? h('p', { class: 'hint' }, t('dash.first_50_doors')) : null,
    h('p', { class: 'hint' }, t('dash.door_state_hint')),
  ];
}

/* --- alerts ----------------------------------------------------------------------------------------- */
async function alerts(reload) {
  const page = await api('GET', '/api/v1/alerts', { query: { state: 'unresolved', limit: 10 } });
  const canAck = can('POST', '/api/v1/alerts/{id}/acknowledge');
  if (!page.items.length) return h('p', { class: 'ok', id: 'dash-no-alerts' }, t('alerts.none_open'));
  return [
    h('ul', { class: 'plain', id: 'dash-alerts' }, page.items.map((a) => h('li', { dataset: { alert: String(a.id) } },
      h('p', { class: 'spread' }, h('span', null, severityBadge(a.severity), ' ', a.subject),
        canAck && a.state === 'open' ? button(t('alerts.acknowledge'), (e) => busy(e.currentTarget, async () => {
          await api('POST', `/api/v1/alerts/${a.id}/acknowledge`);
          announce(t('alerts.acknowledged_done', { subject: a.subject }));
          await reload();
        }), { kind: 'small', attrs: { 'aria-label': t('alerts.acknowledge_named', { subject: a.subject }), dataset: { ack: String(a.id) } } }) : stateBadge(a.state)),
      h('p', { class: 'hint' }, `${tOr(`alerts.kind.${a.kind}`, a.kind)} · ${dateTime(a.last_seen_at || a.created_at)}${a.occurrences > 1 ? ` · ${t('alerts.times', { n: a.occurrences })}` : ''}`)))),
    page.next_cursor ? h('p', { class: 'hint' }, t('alerts.more_open')) : null,
    h('p', null, link('#/alerts', t('dash.all_alerts'))),
  ];
}

/* --- jobs ------------------------------------------------------------------------------------------- */
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

/* --- live events ------------------------------------------------------------------------------------- */
function liveCard(ctx, onAlert, onEvent) {
  const list = h('ul', { class: 'plain live', id: 'live-events', 'aria-live': 'off' });
  const state = h('span', { class: 'badge', id: 'live-state' }, t('live.connecting'));
  const body = h('div', null, h('p', { class: 'spread' }, h('span', { class: 'hint' }, t('live.intro')), state), list);
  const seen = new Set();
  let sites = null;

  function addEvent(ev, top = true) {
    if (seen.has(ev.id)) return;
    seen.add(ev.id);
    const li = h('li', { dataset: { event: String(ev.id), kind: ev.kind, result: ev.result || '' } }, eventRow(ev, sites));
    if (top) list.prepend(li);
    else list.append(li);
    while (list.children.length > LIVE_MAX) list.lastElementChild.remove();
    const empty = list.querySelector('.empty-live');
    if (empty) empty.remove();
  }

  async function start() {
    sites = await lookup('sites').catch(() => null);
    try {
      const page = await api('GET', '/api/v1/events', { query: { limit: 10 } });
      for (const ev of page.items) addEvent(ev, false);
    } catch (e) {
      list.append(h('li', { class: 'bad' }, errorText(e)));
    }
    if (!list.children.length) list.append(h('li', { class: 'muted empty-live' }, t('live.none_yet')));
    const stream = openStream({
      onEvent: (ev) => {
        if (!ctx.live()) return;
        addEvent(ev);
        onEvent(ev);
      },
      onAlert: (a) => { if (ctx.live()) onAlert(a); },
      onReset: () => {},
      onState: (s) => {
        state.textContent = t(`live.${s}`);
        state.className = `badge ${s === 'live' ? 'ok' : 'warn'}`;
        state.dataset.state = s;
      },
    });
    ctx.onLeave(() => stream.close());
  }
  return { el: card(t('dash.events'), 'dash-events', body), start };
}

export async function page(ctx) {
  const sysBody = h('div');
  const terminalsBody = h('div');
  const diskBody = h('div');
  const backupsBody = h('div');
  const doorsBody = h('div');
  const jobsBody = h('div');
  const alertsBody = h('div');
  const canJobs = can('GET', '/api/v1/jobs');
  const canEvents = can('GET', '/api/v1/events') && can('GET', '/api/v1/stream');
  const isSys = role() === 'system-admin';
  const reloadAlerts = () => fill(alertsBody, () => alerts(reloadAlerts));
  let alertTimer = null;
  let doorTimer = null;
  // A door's state and last event follow its events: the card is read again shortly after one.
  const live = canEvents ? liveCard(ctx, () => {
    clearTimeout(alertTimer);
    alertTimer = setTimeout(reloadAlerts, 300);
  }, (ev) => {
    if (ev.door_id == null || doorTimer) return;
    doorTimer = setTimeout(() => { doorTimer = null; if (ctx.live()) fill(doorsBody, doors); }, 1000);
  }) : null;

  const loadSystem = async () => {
    let sys;
    try {
      sys = await api('GET', '/api/v1/system');
    } catch (e) {
      replace(sysBody, h('p', { class: 'bad' }, errorText(e)));
      return;
    }
    replace(sysBody, appliance(sys));
    replace(terminalsBody, terminals(sys));
    if (sys.disk) replace(diskBody, disk(sys));
    if (sys.backups) replace(backupsBody, backups(sys));
  };

  add(ctx.main,
    pageHead(t('nav.dashboard')),
    h('div', { class: 'cards' },
      card(t('dash.terminals'), 'dash-terminals', terminalsBody),
      card(t('dash.alerts'), 'dash-alerts-title', alertsBody),
      isSys ? card(t('dash.backups'), 'dash-backups-title', backupsBody) : null,
      isSys ? card(t('dash.disk'), 'dash-disk', diskBody) : null),
    card(t('dash.doors'), 'dash-doors', doorsBody),
    h('div', { class: 'grid2' },
      live ? live.el : null,
      h('div', null,
        canJobs ? card(t('nav.jobs'), 'dash-jobs', jobsBody) : null,
        card(t('status.title'), 'dash-appliance', sysBody),
        card(t('dash.session'), 'dash-session', h('dl', { class: 'facts' },
          h('dt', null, t('admins.username')), h('dd', null, store.me.username),
          h('dt', null, t('admins.role')), h('dd', null, t(`role.${store.me.role}`)),
          h('dt', null, t('account.totp')), h('dd', null, store.me.totp_enabled ? t('account.totp_on') : t('account.totp_off')))))));
  await Promise.all([
    loadSystem(),
    fill(doorsBody, doors),
    reloadAlerts(),
    canJobs ? fill(jobsBody, jobs) : null,
  ]);
  if (live) live.start();
  const timer = setInterval(() => {
    if (document.visibilityState !== 'visible' || !ctx.live()) return;
    loadSystem();
    fill(doorsBody, doors);
    if (canJobs) fill(jobsBody, jobs);
  }, REFRESH_MS);
  ctx.onLeave(() => { clearInterval(timer); clearTimeout(alertTimer); clearTimeout(doorTimer); });
}
