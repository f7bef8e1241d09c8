// Workers: the registry as the master sees it, refreshed every 5 s (every
// second while a worker drains); decommission a live worker behind a
// confirmation naming it (admin only; docs/replication.md).
import { api, session, canChange, READONLY_REASON } from '../api.js';
import { h, replace, errorBox, loading, empty, table, bar } from '../dom.js';
import { bytes, pct, duration } from '../fmt.js';

const SLOW_MS = 5000, FAST_MS = 1000;

// live, lost, decommissioning, decommissioned: a badge each reader can
// tell apart without colour (the word is the state).
function workerBadge(state) {
  const cls = { live: 'ok', lost: 'bad', decommissioning: 'warn', decommissioned: '' }[state] ?? 'bad';
  return h('span', { class: `badge ${cls}` }, state);
}

export function render(main) {
  const body = h('div', {}, loading('workers'));
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const dialog = h('dialog', { 'aria-labelledby': 'decom-title' });
  replace(main, h('h1', {}, 'Workers'),
    canChange() ? [] : h('p', { class: 'readonly-note' }, READONLY_REASON),
    status, body, dialog);
  // A decommission asks for a refresh at once; only the newest refresh
  // renders and schedules the next, so there is one timer at a time.
  let alive = true, timer = null, fastUntil = 0, seq = 0;
  async function tick() {
    clearTimeout(timer);
    const mine = ++seq;
    let draining = false;
    try {
      const [w, m] = await Promise.all([api('/api/v1/workers'), api('/api/v1/metrics')]);
      if (!alive || mine !== seq) return;
      const workers = w.workers || [];
      draining = workers.some(x => x.state === 'decommissioning');
      replace(body, view(workers, m, dialog, status, () => { fastUntil = Date.now() + 30000; tick(); }));
    } catch (e) {
      if (!alive || mine !== seq) return;
      replace(body, errorBox(e, 'Workers'));
    }
    timer = setTimeout(tick, draining || Date.now() < fastUntil ? FAST_MS : SLOW_MS);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}

function confirmDecommission(dialog, w, status, refresh) {
  const err = h('div', { 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const ok = h('button', { type: 'button', class: 'danger', onclick: async () => {
    ok.disabled = true;
    replace(err);
    try {
      const r = await api('/api/v1/workers/decommission', { method: 'POST', body: { id: String(w.id) } });
      dialog.close();
      const state = r && r.worker ? r.worker.state : 'decommissioning';
      replace(status, h('p', { class: 'ok' }, state === 'decommissioned'
        ? `Worker ${w.id} (${w.address}) was already decommissioned.`
        : `Decommissioning worker ${w.id} (${w.address}): its blocks are copied to the other workers; its state below follows the drain.`));
      refresh();
    } catch (e) {
      replace(err, errorBox(e, `Decommissioning worker ${w.id}`));
      ok.disabled = false;
    }
  } }, `Decommission ${w.address}`);
  replace(dialog,
    h('h2', { id: 'decom-title' }, `Decommission worker ${w.id} (${w.address})?`),
    h('p', {}, 'Every block it caches is copied to the workers that own it next; reads keep hitting it meanwhile. ',
      'Once nothing depends on it, it becomes decommissioned and leaves placement: it never owns blocks again. ',
      'It keeps running until you stop it.'),
    err, h('div', { class: 'actions' }, cancel, ok));
  dialog.showModal();
  cancel.focus();
}

// What the state means now, under its badge.
function stateCell(w, repl) {
  let note = '';
  if (w.state === 'decommissioning') {
    const short = repl.under_replicated_blocks;
    note = `copying its blocks to other workers${short ? ` · cluster: ${short} block${short === 1 ? '' : 's'} short of copies` : ''}`;
  } else if (w.state === 'decommissioned') {
    note = 'drained, owns no blocks';
  } else if (w.state === 'lost') {
    note = 'no heartbeat';
  }
  return h('div', {}, workerBadge(w.state), note ? h('span', { class: 'sub state-note' }, note) : []);
}

function view(workers, metrics, dialog, status, refresh) {
  if (!workers.length) {
    return session.role && session.role !== 'leader'
      ? empty(`No workers here: workers report to the leader${session.leaderAddress ? ' (' + session.leaderAddress + ')' : ''}.`)
      : empty('No worker has registered with this master yet.');
  }
  const counters = new Map((metrics.workers || []).map(m => [m.id, m.counters || {}]));
  const repl = (metrics.master && metrics.master.replication) || {};
  const cols = [
    { label: 'Worker', cls: 'nowrap', cell: w => [h('strong', {}, `#${w.id}`), ' ', w.address] },
    { label: 'State', cell: w => stateCell(w, repl) },
    { label: 'Heartbeat', num: true, cell: w => `${duration(w.last_heartbeat_ms_ago)} ago` },
    { label: 'Cache used', cell: w => {
      const c = counters.get(w.id) || {};
      const tiers = ['mem', 'ssd', 'hdd'].filter(t => c[`tier_${t}_capacity_bytes`]);
      if (!tiers.length) // a worker that does not report its tiers
        return h('div', {}, bar(w.used_bytes, w.capacity_bytes, `worker ${w.id} cache used`),
          h('span', { class: 'sub' }, `${bytes(w.used_bytes)} of ${bytes(w.capacity_bytes)}`));
      return h('div', {}, tiers.map(t => {
        const used = c[`tier_${t}_used_bytes`] || 0, total = c[`tier_${t}_capacity_bytes`];
        return h('div', { class: 'tier' },
          bar(used, total, `worker ${w.id} ${t.toUpperCase()} tier used`),
          h('span', { class: 'sub' }, `${t.toUpperCase()} ${bytes(used)} of ${bytes(total)}`));
      }));
    } },
    { label: 'Hit rate', num: true, cell: w => {
      const c = counters.get(w.id) || {};
      const n = (c.block_hits_total || 0) + (c.block_misses_total || 0);
      return n ? pct(c.block_hits_total / n) : '—';
    } },
    { label: 'Read', num: true, cell: w => {
      const c = counters.get(w.id) || {};
      return `${bytes(c.bytes_from_cache_total || 0)} cache · ${bytes(c.bytes_from_ufs_total || 0)} store`;
    } },
    { label: 'S3 port', num: true, cell: w => String(w.s3_port) },
    { label: 'Version', cell: w => w.version || '—' },
  ];
  // A readonly token sees no decommission control at all (the note above
  // says why); an admin gets one per live worker.
  if (canChange())
    cols.push({ label: 'Actions', cell: w => (w.state === 'live'
      ? h('button', { type: 'button', class: 'danger', 'aria-label': `Decommission worker ${w.id} (${w.address})`,
        onclick: () => confirmDecommission(dialog, w, status, refresh) }, 'Decommission')
      : '—') });
  const draining = workers.filter(w => w.state === 'decommissioning').length;
  return [
    draining ? h('p', { class: 'banner', role: 'note' },
      `${draining} worker${draining === 1 ? ' is' : 's are'} draining; this page refreshes every second until done.`) : [],
    table('Workers', cols, workers),
  ];
}
