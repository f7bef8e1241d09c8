// Jobs: load, free and persist jobs, running and recent, with progress, rate, ETA
// and per-file errors; cancel behind a confirmation. Refreshed every 2 s.
import { api, canChange, READONLY_REASON } from '../api.js';
import { h, replace, errorBox, loading, empty, table, bar } from '../dom.js';
import { bytes, rate, duration, date } from '../fmt.js';

const ACTIVE = new Set(['queued', 'running']);

export function stateBadge(j) {
  const cls = { done: 'ok', failed: 'bad', cancelled: 'warn', running: '', queued: '' }[j.state] || '';
  return h('span', { class: `badge ${cls}` }, j.state);
}

// "12 of 40 files · 3.0 MiB of 9.1 MiB" and a bar over bytes (files when
// the job has no bytes to count).
export function progress(j) {
  const useBytes = j.bytes_total > 0;
  const done = useBytes ? j.bytes_done : j.files_done, total = useBytes ? j.bytes_total : j.files_total;
  return h('div', {},
    bar(done, total, `job ${j.id} progress`),
    h('span', { class: 'sub' }, `${j.files_done} of ${j.files_total} files`,
      j.files_failed ? ` (${j.files_failed} failed)` : '',
      useBytes ? ` · ${bytes(j.bytes_done)} of ${bytes(j.bytes_total)}` : ''));
}

export function render(main, params) {
  const id = params.get('id');
  return id ? renderOne(main, id) : renderList(main);
}

function renderList(main) {
  const body = h('div', {}, loading('jobs'));
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const dialog = h('dialog', { 'aria-labelledby': 'cancel-title' });
  replace(main, h('h1', {}, 'Jobs'),
    h('p', { class: 'sub' }, 'Start a load, free or persist from a directory or file in Browse.'),
    status, body, dialog);
  let alive = true;
  async function tick() {
    try {
      const d = await api('/api/v1/jobs');
      if (!alive) return;
      const jobs = d.jobs || [];
      if (!jobs.length) { replace(body, empty('No jobs yet.')); return; }
      replace(body, table('Jobs', [
        { label: 'Job', cls: 'name', cell: j => h('a', { href: `#/jobs?id=${encodeURIComponent(j.id)}` }, `#${j.id} ${j.type}`) },
        { label: 'Path', cls: 'name', cell: j => [j.path, j.recursive ? ' (and below)' : ''] },
        { label: 'State', cell: stateBadge },
        { label: 'Progress', cell: progress },
        { label: 'Rate', num: true, cell: j => (j.rate_bytes_per_s ? rate(j.rate_bytes_per_s) : '—') },
        { label: 'ETA', num: true, cell: j => (ACTIVE.has(j.state) && j.eta_ms >= 0 ? duration(j.eta_ms) : '—') },
        { label: 'Errors', num: true, cell: j => String(j.errors_total || 0) },
        { label: 'Started', wide: true, cell: j => date(j.created_ms) },
        { label: 'Actions', cell: j => (ACTIVE.has(j.state)
          ? h('button', { type: 'button', class: 'danger', 'aria-label': `Cancel job ${j.id}`,
            disabled: !canChange(), title: canChange() ? undefined : READONLY_REASON,
            onclick: () => confirmCancel(dialog, j, status, tick) }, 'Cancel')
          : '') },
      ], jobs));
    } catch (e) {
      if (alive) replace(body, errorBox(e, 'Jobs'));
    }
  }
  tick();
  const timer = setInterval(tick, 2000);
  return () => { alive = false; clearInterval(timer); };
}

function confirmCancel(dialog, j, status, refresh) {
  const err = h('div');
  const keep = h('button', { type: 'button', onclick: () => dialog.close() }, 'Keep it running');
  const ok = h('button', { type: 'button', class: 'danger', onclick: async () => {
    ok.disabled = true;
    try {
      await api(`/api/v1/jobs/${encodeURIComponent(j.id)}`, { method: 'DELETE' });
      dialog.close();
      replace(status, h('p', { class: 'ok' }, `Cancelled job ${j.id}.`));
      refresh();
    } catch (e) {
      replace(err, errorBox(e, `Cancelling job ${j.id}`));
      ok.disabled = false;
    }
  } }, `Cancel job ${j.id}`);
  replace(dialog,
    h('h2', { id: 'cancel-title' }, `Cancel job ${j.id} (${j.type} ${j.path})?`),
    h('p', {}, 'What it already did stays done; it stops after the files in flight.'),
    err, h('div', { class: 'actions' }, keep, ok));
  dialog.showModal();
  keep.focus();
}

function renderOne(main, id) {
  const body = h('div', {}, loading(`job ${id}`));
  replace(main, h('h1', {}, `Job ${id}`), h('p', {}, h('a', { href: '#/jobs' }, 'All jobs')), body);
  let alive = true;
  let timer = null;
  async function tick() {
    try {
      const { job: j } = await api(`/api/v1/jobs/${encodeURIComponent(id)}`);
      if (!alive) return;
      const errors = j.errors || [];
      replace(body,
        h('section', { class: 'card', 'aria-label': 'Job details' },
          h('dl', { class: 'kv' },
            h('dt', {}, 'Type'), h('dd', {}, j.type, j.medium ? ` (${j.medium})` : ''),
            h('dt', {}, 'Path'), h('dd', {}, j.path, j.recursive ? ' (and below)' : ''),
            h('dt', {}, 'State'), h('dd', {}, stateBadge(j), j.reason ? ` ${j.reason}` : ''),
            h('dt', {}, 'Progress'), h('dd', {}, progress(j)),
            h('dt', {}, 'Rate'), h('dd', {}, j.rate_bytes_per_s ? rate(j.rate_bytes_per_s) : '—'),
            h('dt', {}, 'ETA'), h('dd', {}, ACTIVE.has(j.state) && j.eta_ms >= 0 ? duration(j.eta_ms) : '—'),
            h('dt', {}, 'Started'), h('dd', {}, date(j.created_ms)),
            j.ended_ms ? [h('dt', {}, 'Ended'), h('dd', {}, date(j.ended_ms))] : [])),
        h('section', { class: 'card', 'aria-label': 'Errors' },
          h('h2', {}, `Errors (${j.errors_total || 0})`),
          errors.length ? table('Errors', [
            { label: 'Path', cls: 'name', cell: e => e.path },
            { label: 'Reason', cls: 'name', cell: e => e.reason },
          ], errors) : empty('No file failed.')));
      if (!ACTIVE.has(j.state) && timer) { clearInterval(timer); timer = null; }
    } catch (e) {
      if (alive) replace(body, errorBox(e, `Job ${id}`));
    }
  }
  tick();
  timer = setInterval(tick, 1000);
  return () => { alive = false; if (timer) clearInterval(timer); };
}
