// Overview: health, masters and leader, workers, capacity, and the cache's
// hit rate and throughput over the last hour from the master's history.
import { api } from '../api.js';
import { h, replace, errorBox, loading, bar } from '../dom.js';
import { bytes, rate, pct, duration, date } from '../fmt.js';
import { lineChart } from '../chart.js';

const REFRESH_MS = 5000;
const EVENTS = 12;

export function render(main) {
  const status = h('div', {}, loading('cluster status'));
  const charts = h('div', {}, loading('metrics history'));
  const events = h('div', {}, loading('recent events'));
  replace(main, h('h1', {}, 'Overview'), status, h('h2', {}, 'Last hour'), charts,
    h('section', { class: 'card', 'aria-labelledby': 'events-title' },
      h('h2', { id: 'events-title' }, 'Recent events'), events));
  let alive = true;
  async function tick() {
    const [cluster, metrics, history, ev] = await Promise.allSettled([
      api('/api/v1/cluster'), api('/api/v1/metrics'), api('/api/v1/metrics/history'),
      api('/api/v1/events', { query: { limit: EVENTS } }),
    ]);
    if (!alive) return;
    if (cluster.status === 'rejected') replace(status, errorBox(cluster.reason, 'Cluster status'));
    else replace(status, summary(cluster.value, metrics));
    if (history.status === 'rejected') replace(charts, errorBox(history.reason, 'Metrics history'));
    else replace(charts, historyCharts(history.value));
    if (ev.status === 'rejected') replace(events, errorBox(ev.reason, 'Recent events'));
    else replace(events, eventList(ev.value.events || []));
    // The overview's meaningful paint, for the e2e figures.
    if (!performance.getEntriesByName('overview-rendered').length) performance.mark('overview-rendered');
  }
  tick();
  const timer = setInterval(tick, REFRESH_MS);
  return () => { alive = false; clearInterval(timer); };
}

// The registry's counts say live for a worker that drains; the list says
// which of them are decommissioning or decommissioned.
function workersCard(workers, list) {
  const by = {};
  for (const w of list || []) by[w.state] = (by[w.state] || 0) + 1;
  const live = list ? by.live || 0 : workers.live ?? 0;
  const lost = list ? by.lost || 0 : workers.lost ?? 0;
  const parts = [h('span', { class: lost ? 'bad' : '' }, `${lost} lost`)];
  if (by.decommissioning) parts.push(' · ', h('span', { class: 'warn' }, `${by.decommissioning} decommissioning`));
  if (by.decommissioned) parts.push(` · ${by.decommissioned} decommissioned`);
  return card('Workers', h('p', { class: 'stat' }, `${live} live`), h('p', { class: 'sub' }, parts));
}

// Event types (GET /api/v1/events) in words, with a tone where one needs a
// look; an unknown type shows as itself.
const EVENT_KINDS = {
  pin: ['Pinned'], unpin: ['Unpinned'],
  ttl_set: ['TTL set'], ttl_cleared: ['TTL cleared'], ttl_fired: ['TTL fired', 'warn'], ttl_deleted: ['Deleted by its TTL', 'warn'],
  replication_set: ['Replication set'],
  replication_started: ['Re-replication started', 'warn'], replication_finished: ['Re-replication finished', 'ok'],
  write_type_set: ['Write type set'], write_type_cleared: ['Write type cleared'],
  persisted: ['Persisted', 'ok'], persist_lost: ['Data lost', 'bad alarm'],
  job_started: ['Job started'], job_done: ['Job done', 'ok'], job_failed: ['Job failed', 'bad'], job_cancelled: ['Job cancelled', 'warn'],
  worker_decommissioning: ['Worker decommissioning', 'warn'], worker_decommissioned: ['Worker decommissioned', 'ok'],
  worker_active: ['Worker back in service', 'ok'],
};

// The server's detail, with its raw numbers said the way the console
// says them elsewhere (durations, sizes, an unbounded maximum).
function eventDetail(e) {
  return (e.detail || '')
    .replace(/\bttl_ms (\d+)/, (_, ms) => duration(Number(ms)))
    .replace(/\bmax -1\b/, 'max unbounded')
    .replace(/^(\d+) bytes in the store$/, (_, n) => `${bytes(Number(n))} in the store`);
}

// Today's events by their time of day, older ones with their date.
function when(ms) {
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : date(ms);
}

function eventList(list) {
  if (!list.length) return h('p', { class: 'empty' }, 'Nothing yet: policy changes, jobs, TTLs, persistence and worker changes show here.');
  return h('ol', { class: 'events' }, list.map(e => {
    const [label, tone] = EVENT_KINDS[e.type] || [e.type.replace(/_/g, ' ')];
    return h('li', { 'data-type': e.type },
      h('time', { datetime: new Date(e.time_ms).toISOString() }, when(e.time_ms)),
      h('span', { class: `badge ${tone || ''}` }, label),
      e.path ? h('code', { class: 'path' }, e.path) : [],
      e.detail ? h('span', { class: 'detail' }, eventDetail(e)) : []);
  }));
}

function card(title, ...body) {
  return h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), ...body);
}

function summary(c, metrics) {
  const r = c.raft || {};
  const leading = r.role === 'leader';
  const cap = c.capacity || {};
  const workers = c.workers || {};
  const m = metrics.status === 'fulfilled' ? metrics.value : null;
  const sums = (m && m.cluster) || {};
  const hits = sums.block_hits_total || 0, misses = sums.block_misses_total || 0;
  const fromCache = sums.bytes_from_cache_total || 0, fromStore = sums.bytes_from_ufs_total || 0;
  const leaderRow = c.leader ? c.leader : 'none known';
  const out = [];
  if (!leading)
    out.push(h('p', { class: 'banner', role: 'note' },
      `This master is a ${r.role || 'follower'}; workers report to the leader (${leaderRow}), `,
      'so worker and cache figures below are the leader\'s to show.'));
  out.push(h('div', { class: 'grid' },
    card('Health',
      h('p', { class: 'stat' }, h('span', { class: r.failed ? 'bad' : 'ok' }, r.failed ? 'Failed' : 'OK')),
      h('p', { class: 'sub' }, `version ${c.version} · up ${duration(c.uptime_ms)}`)),
    card('Masters',
      h('p', { class: 'stat' }, String((c.masters || []).length)),
      h('p', { class: 'sub' }, `leader ${leaderRow} · term ${r.term ?? '—'}`)),
    workersCard(workers, c.worker_list),
    card('Cache capacity',
      h('p', { class: 'stat' }, `${bytes(cap.used_bytes)} used`),
      bar(cap.used_bytes || 0, cap.total_bytes || 0, 'cache used of capacity'),
      h('p', { class: 'sub' }, `of ${bytes(cap.total_bytes)} on live workers`),
      ...['mem', 'ssd', 'hdd'].filter((t) => sums[`tier_${t}_capacity_bytes`]).map((t) => {
        const total = sums[`tier_${t}_capacity_bytes`], used = sums[`tier_${t}_used_bytes`] || 0;
        return h('div', { class: 'tier' },
          h('p', { class: 'sub' }, `${t.toUpperCase()}: ${bytes(used)} of ${bytes(total)}`),
          bar(used, total, `${t.toUpperCase()} tier used of capacity`));
      })),
    card('Cache hit rate',
      h('p', { class: 'stat' }, hits + misses ? pct(hits / (hits + misses)) : '—'),
      h('p', { class: 'sub' }, `blocks: ${hits} hits, ${misses} misses · bytes: `,
        fromCache + fromStore ? pct(fromCache / (fromCache + fromStore)) : '—', ' from cache')),
    card('Store errors',
      h('p', { class: sums.store_read_errors_total ? 'stat bad' : 'stat' }, String(sums.store_read_errors_total || 0)),
      h('p', { class: 'sub' }, 'failed reads from under-stores · cache: ',
        `${sums.cache_put_errors_total || 0} blocks not cached, `,
        `${sums.tier_write_errors_total || 0} tier write errors`)),
  ));
  if (metrics.status === 'rejected') out.push(errorBox(metrics.reason, 'Metrics'));
  return out;
}

// Per-interval rates from cumulative counters; null where a counter went
// down (a worker restarted or was lost) or there is no previous sample.
function deltas(t, values) {
  return values.map((v, i) => {
    if (i === 0) return null;
    const dv = v - values[i - 1], dt = (t[i] - t[i - 1]) / 1000;
    return dv < 0 || dt <= 0 ? null : dv / dt;
  });
}

function historyCharts(hist) {
  const s = hist.samples || {};
  const t = s.t_ms || [];
  if (t.length < 2)
    return h('p', { class: 'empty' }, `The master samples the cluster every ${duration(hist.interval_ms)}; `,
      'charts appear after the second sample.');
  const hitsR = deltas(t, s.block_hits_total), missR = deltas(t, s.block_misses_total);
  const cacheR = deltas(t, s.bytes_from_cache_total), storeR = deltas(t, s.bytes_from_ufs_total);
  const ratio = (a, b) => a.map((x, i) => (x === null || b[i] === null || x + b[i] === 0 ? null : x / (x + b[i])));
  const used = s.used_bytes.map((u, i) => (s.capacity_bytes[i] ? u / s.capacity_bytes[i] : null));
  return h('div', { class: 'grid' },
    h('section', { class: 'card', 'aria-label': 'Hit rate' }, h('h2', {}, 'Cache hit rate'),
      lineChart({ title: 'Cache hit rate', times: t, max: 1, format: pct, series: [
        { label: 'requests (blocks)', values: ratio(hitsR, missR), cls: 's1' },
        { label: 'bytes', values: ratio(cacheR, storeR), cls: 's2' },
      ] })),
    h('section', { class: 'card', 'aria-label': 'Read throughput' }, h('h2', {}, 'Read throughput'),
      lineChart({ title: 'Read throughput', times: t, format: rate, series: [
        { label: 'from cache', values: cacheR, cls: 's1' },
        { label: 'from store', values: storeR, cls: 's2' },
      ] })),
    h('section', { class: 'card', 'aria-label': 'Cache used' }, h('h2', {}, 'Cache used'),
      lineChart({ title: 'Cache used', times: t, max: 1, format: pct, series: [
        { label: 'used of capacity', values: used, cls: 's3' },
      ] })),
  );
}
