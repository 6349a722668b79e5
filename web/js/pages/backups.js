// Backups: make one now and follow it to its end, the files in every
// destination (each checked cheaply, with the people erased since), a full
// verification of one, its download; the schedules, destinations and
// retention as configured (keys named: they change in the configuration
// file); the recovery key's status.

import { add, h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api, download } from '../api.js';
import { dateTime, bytes, number, duration } from '../fmt.js';
import { can, pageHead, table, button, busy, announce, notice, badge, errorText, alertMessage, link } from '../ui.js';
import { statusBadge } from './dashboard.js';
import { settingsTable } from './settings.js';

const POLL_MS = 1000;

function verifyResult(r) {
  if (r.ok) {
    return notice(t('backups.verify_ok', {
      name: r.name, tables: number(r.tables), rows: number(r.rows), when: dateTime(r.created_at),
    }), 'ok');
  }
  return notice(t('backups.verify_failed', { name: r.name, error: r.error }), 'bad');
}

export async function page(ctx) {
  const list = h('div', { id: 'backups-list' });
  const runBox = h('div', { id: 'backup-run', 'aria-live': 'polite' });
  const verifyBox = h('div', { id: 'backup-verify', 'aria-live': 'polite' });
  const settingsBox = h('div', { id: 'backup-settings' });
  const keyBox = h('div', { id: 'recovery-key' });
  let timer = null;
  ctx.onLeave(() => clearInterval(timer));

  async function load() {
    try {
      const page = await api('GET', '/api/v1/backups');
      replace(list, table({
        caption: t('nav.backups'),
        columns: [
          { label: t('backups.name'), cell: (b) => h('span', { class: 'mono', dataset: { backup: b.name } }, b.name) },
          { label: t('backups.kind'), cell: (b) => t(`backups.kind.${b.kind}`) },
          { label: t('backups.created'), cell: (b) => dateTime(b.created_at) },
          { label: t('backups.size'), cell: (b) => bytes(b.size), num: true },
          { label: t('backups.destination'), cell: (b) => h('span', { class: 'mono' }, b.destination) },
          { label: t('backups.check'), cell: (b) => (b.verified ? badge(t('backups.whole'), 'ok') : [badge(t('backups.damaged'), 'bad'), h('p', { class: 'hint' }, b.problem)]) },
          { label: t('backups.erased_since'), cell: (b) => String(b.erased_since), num: true },
          {
            label: t('common.actions'), actions: true,
            cell: (b) => h('div', { class: 'row' },
              button(t('backups.verify'), (e) => busy(e.currentTarget, async () => {
                replace(verifyBox, h('p', { class: 'muted' }, t('backups.verifying', { name: b.name })));
                const r = await api('POST', `/api/v1/backups/${encodeURIComponent(b.name)}/verify`);
                replace(verifyBox, verifyResult(r));
                announce(r.ok ? t('backups.verify_ok_short') : t('backups.verify_failed_short'));
              }), { kind: 'small', attrs: { 'aria-label': t('backups.verify_named', { name: b.name }), dataset: { verify: b.name } } }),
              button(t('backups.download'), (e) => busy(e.currentTarget, async () => {
                const { filename } = await download(`/api/v1/backups/${encodeURIComponent(b.name)}`, { fallbackName: b.name });
                announce(t('backups.downloaded', { name: filename }));
              }), { kind: 'small', attrs: { 'aria-label': t('backups.download_named', { name: b.name }), dataset: { download: b.name } } })),
          },
        ],
        rows: page.items,
        empty: t('backups.none'),
      }));
    } catch (e) {
      replace(list, notice(errorText(e), 'bad'));
    }
  }

  /* Run now: the backup-full job, followed until it ends. */
  async function follow(runId) {
    clearInterval(timer);
    const bar = h('progress', { max: 1, value: 0, 'aria-label': t('backups.progress') });
    const text = h('span', null, t('backups.running'));
    replace(runBox, h('div', { class: 'progress' }, bar, text));
    await new Promise((resolve) => {
      const tick = async () => {
        if (!ctx.live()) { clearInterval(timer); resolve(); return; }
        try {
          const runs = await api('GET', '/api/v1/jobs/backup-full/runs', { query: { limit: 5 } });
          const r = runs.items.find((x) => x.id === runId);
          if (!r) return;
          if (r.status === 'running') {
            bar.value = r.progress || 0;
            text.textContent = t('backups.running_pct', { pct: Math.round((r.progress || 0) * 100) });
            return;
          }
          clearInterval(timer);
          replace(runBox, r.status === 'ok'
            ? notice(t('backups.run_ok', { s: duration(r.duration_ms) }), 'ok')
            : notice(t('backups.run_failed', { error: r.error || t(`jobs.status.${r.status}`) }), 'bad'));
          runBox.dataset.status = r.status;
          announce(r.status === 'ok' ? t('backups.run_ok_short') : t('backups.run_failed_short'));
          resolve();
        } catch (e) {
          clearInterval(timer);
          replace(runBox, notice(errorText(e), 'bad'));
          resolve();
        }
      };
      timer = setInterval(tick, POLL_MS);
      tick();
    });
    await load();
    await loadSystem();
  }

  const runBtn = can('POST', '/api/v1/jobs/{name}/run') ? button(t('backups.run_now'), (e) => busy(e.currentTarget, async () => {
    delete runBox.dataset.status;
    try {
      const r = await api('POST', '/api/v1/jobs/backup-full/run', { body: {} });
      announce(t('backups.started'));
      await follow(r.run_id);
    } catch (err) {
      if (err.code === 'conflict') alertMessage(t('backups.already_running'));
      else throw err;
    }
  }), { kind: 'primary', attrs: { id: 'backup-run-now' } }) : null;

  async function loadSettings() {
    try {
      const s = await api('GET', '/api/v1/settings');
      replace(settingsBox, settingsTable(s.settings.filter((x) => x.section === 'backup'), 'backup-settings-table'),
        h('p', { class: 'hint' }, t(can('PUT', '/api/v1/settings/{key}') ? 'settings.change_here_or_file' : 'settings.change_in_file')));
    } catch (e) {
      replace(settingsBox, notice(errorText(e), 'bad'));
    }
  }

  async function loadSystem() {
    try {
      const sys = await api('GET', '/api/v1/system');
      const k = sys.recovery_key;
      const last = h('ul', { class: 'plain' }, sys.backups.map((b) => h('li', null,
        h('p', { class: 'spread' }, h('strong', null, t(`backups.kind.${b.kind}`)), statusBadge(b.last_status)),
        h('p', { class: 'hint' }, `${t('backups.last_ok')}: ${dateTime(b.last_ok_at)} · ${t('jobs.next_run')}: ${b.next_run_at ? dateTime(b.next_run_at) : t('jobs.off')} · `,
          link(`#/jobs/${b.job}`, t('backups.job_runs'))))));
      replace(keyBox, !k.present
        ? notice(t('backups.recovery_missing'), 'bad')
        : [
          h('dl', { class: 'facts' },
            h('dt', null, t('backups.recovery_fingerprint')), h('dd', { class: 'mono', id: 'recovery-fingerprint' }, k.fingerprint),
            h('dt', null, t('backups.recovery_created')), h('dd', null, dateTime(k.created_at)),
            h('dt', null, t('backups.recovery_exported')), h('dd', { id: 'recovery-exported' }, k.exported ? dateTime(k.exported_at) : badge(t('backups.recovery_not_yet'), 'bad'))),
          k.exported ? notice(t('backups.recovery_done'), 'ok') : h('div', { class: 'notice warn' },
            h('p', null, t('backups.recovery_todo')),
            h('p', null, h('code', { class: 'mono' }, 'gatehouse keys recovery-export --out /media/usb/gatehouse-recovery.txt')),
            h('p', null, t('backups.recovery_todo_after'))),
          k.keys_without_escrow ? notice(t('backups.escrow_missing', { n: k.keys_without_escrow }), 'bad') : null,
        ]);
      replace(lastBox, last);
    } catch (e) {
      replace(keyBox, notice(errorText(e), 'bad'));
    }
  }
  const lastBox = h('div', { id: 'backup-last' });

  add(ctx.main, pageHead(t('nav.backups'), runBtn),
    h('p', { class: 'muted' }, t('backups.intro')),
    runBox,
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-labelledby': 'bk-last' }, h('h2', { id: 'bk-last' }, t('backups.last')), lastBox),
      h('section', { class: 'card', 'aria-labelledby': 'bk-key' }, h('h2', { id: 'bk-key' }, t('backups.recovery')),
        h('p', { class: 'muted' }, t('backups.recovery_intro')), keyBox)),
    h('h2', null, t('backups.files')), verifyBox, list,
    h('section', { class: 'card', 'aria-labelledby': 'bk-settings' }, h('h2', { id: 'bk-settings' }, t('backups.settings')),
      h('p', { class: 'muted' }, t('backups.settings_intro')), settingsBox),
    h('p', { class: 'hint' }, t('backups.restore_hint')));
  await Promise.all([load(), loadSettings(), loadSystem()]);
}
