// Masters: the Raft group, each member asked by the master serving this page.
import { api } from '../api.js';
import { h, replace, errorBox, loading, empty, table } from '../dom.js';

export function render(main) {
  const body = h('div', {}, loading('masters'));
  replace(main, h('h1', {}, 'Masters'), body);
  let alive = true;
  async function tick() {
    try {
      const m = await api('/api/v1/masters');
      if (alive) replace(body, view(m));
    } catch (e) {
      if (alive) replace(body, errorBox(e, 'Masters'));
    }
  }
  tick();
  const timer = setInterval(tick, 5000);
  return () => { alive = false; clearInterval(timer); };
}

function view(m) {
  const list = m.masters || [];
  if (!list.length) return empty('This master knows no group members.');
  return [
    h('p', {}, m.leader ? `Leader: master ${m.leader} · term ${m.term}` : h('span', { class: 'warn' }, 'No leader known (an election may be under way).')),
    table('Masters', [
      { label: 'Master', cls: 'name', cell: x => [h('strong', {}, `#${x.id}`), x.self ? ' (this one)' : ''] },
      { label: 'REST', cls: 'name', cell: x => x.rest_url ? h('a', { href: x.rest_url + '/' }, x.rest_url) : '—' },
      { label: 'Role', cell: x => h('span', { class: `badge ${x.role === 'leader' ? 'ok' : x.role === 'unreachable' ? 'bad' : ''}` }, x.role) },
      { label: 'Reachable', cell: x => (x.role === 'unreachable' ? h('span', { class: 'bad' }, 'no') : 'yes') },
      { label: 'Term', num: true, cell: x => x.term ?? '—' },
      { label: 'Commit', num: true, cell: x => x.commit_index ?? '—' },
      { label: 'Applied', num: true, cell: x => x.applied_index ?? '—' },
      { label: 'Lag', num: true, cell: x => x.lag ?? '—' },
      { label: 'Raft', cls: 'name', cell: x => x.raft_address },
    ], list),
  ];
}
