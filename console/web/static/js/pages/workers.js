// Workers: the registry as the master sees it, refreshed every 5 s.
import { api, session } from '../api.js';
import { h, replace, errorBox, loading, empty, table, bar } from '../dom.js';
import { bytes, pct, duration } from '../fmt.js';

export function render(main) {
  const body = h('div', {}, loading('workers'));
  replace(main, h('h1', {}, 'Workers'), body);
  let alive = true;
  async function tick() {
    try {
      const [w, m] = await Promise.all([api('/api/v1/workers'), api('/api/v1/metrics')]);
      if (alive) replace(body, view(w.workers || [], m.workers || []));
    } catch (e) {
      if (alive) replace(body, errorBox(e, 'Workers'));
    }
  }
  tick();
  const timer = setInterval(tick, 5000);
  return () => { alive = false; clearInterval(timer); };
}

function view(workers, metrics) {
  if (!workers.length) {
    return session.role && session.role !== 'leader'
      ? empty(`No workers here: workers report to the leader${session.leaderAddress ? ' (' + session.leaderAddress + ')' : ''}.`)
      : empty('No worker has registered with this master yet.');
  }
  const counters = new Map(metrics.map(m => [m.id, m.counters || {}]));
  return table('Workers', [
    { label: 'Worker', cls: 'name', cell: w => [h('strong', {}, `#${w.id}`), ' ', w.address] },
    { label: 'State', cell: w => h('span', { class: `badge ${w.state === 'live' ? 'ok' : 'bad'}` }, w.state) },
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
  ], workers);
}
