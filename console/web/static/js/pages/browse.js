// Browse: the namespace a page at a time, and a file's blocks.
import { api } from '../api.js';
import { h, replace, errorBox, loading, empty, table } from '../dom.js';
import { bytes, date, pct } from '../fmt.js';
import { policyPanel, pinText, ttlText, replText, writeTypeText, persistenceCell } from '../policies.js';

const PAGE = 100;
// Where each earlier page of a directory started, for "Previous page".
const backStack = new Map();

function link(page, params) {
  return `#/${page}?${new URLSearchParams(params).toString()}`;
}

function crumbs(path) {
  const parts = path.split('/').filter(Boolean);
  const items = [h('li', {}, h('a', { href: link('browse', { path: '/' }) }, 'root'))];
  let acc = '';
  parts.forEach((p, i) => {
    acc += '/' + p;
    items.push(h('li', {}, i === parts.length - 1
      ? h('span', { 'aria-current': 'page' }, p)
      : h('a', { href: link('browse', { path: acc }) }, p)));
  });
  return h('nav', { class: 'crumbs', 'aria-label': 'Path' }, h('ol', {}, items));
}

export function render(main, params) {
  const path = params.get('path') || '/';
  const after = params.get('after');
  const body = h('div', {}, loading('directory'));
  const policies = h('div');
  replace(main, h('h1', {}, 'Browse'), crumbs(path), policies, body);
  let alive = true;
  const load = () => api('/api/v1/files', { query: { path, limit: PAGE, after: after ?? undefined } })
    .then(d => {
      if (!alive) return;
      replace(body, listing(d, path, after));
      performance.mark('browse-rendered'); // for the e2e figures
    })
    .catch(e => { if (alive) replace(body, errorBox(e, `Listing ${path}`)); });
  const loadPolicies = note => api('/api/v1/files/stat', { query: { path } })
    .then(st => {
      if (alive && st.type === 'directory')
        replace(policies, h('details', { class: 'policies-fold', open: note ? true : undefined },
          h('summary', {}, `Policies of this directory: pin ${pinText(st)} · TTL ${ttlText(st)} · replicas ${replText(st)}` +
            ` · write type ${writeTypeText(st)}`),
          policyPanel(st, (_, msg) => { load(); loadPolicies(msg); }, note)));
    })
    .catch(() => { /* the listing's error box says why */ });
  load();
  loadPolicies();
  return () => { alive = false; };
}

function listing(d, path, after) {
  if (d.type === 'file') {
    location.replace(link('file', { path }));
    return loading('file');
  }
  const entries = d.entries || [];
  const stack = backStack.get(path) || [];
  const out = [];
  if (!entries.length && !after) {
    out.push(empty(path === '/' ? 'Nothing here yet: add a mount on the Mounts page.' : 'This directory is empty.'));
  } else {
    out.push(table(`Contents of ${path}`, [
      { label: 'Name', cls: 'name', cell: e => h('a', { href: link(e.type === 'directory' ? 'browse' : 'file', { path: e.path }) },
        e.type === 'directory' ? `${e.name}/` : e.name) },
      { label: 'Type', wide: true, cell: e => (e.mount_point ? 'mount point' : e.type) },
      { label: 'Size', num: true, cell: e => (e.type === 'directory' ? '—' : bytes(e.length)) },
      { label: 'Cached', num: true, cell: e => (e.cached_percent === undefined ? '—' : pct(e.cached_percent / 100)) },
      { label: 'Persistence', cell: persistenceCell },
      { label: 'Pin', wide: true, cell: pinText },
      { label: 'TTL', wide: true, cell: ttlText },
      { label: 'Replicas', wide: true, cell: replText },
      { label: 'Write type', wide: true, cell: writeTypeText },
      { label: 'Modified', wide: true, cls: 'nowrap', cell: e => date(e.mtime_ms) },
    ], entries, { stack: false }));
  }
  const pager = h('div', { class: 'pager' });
  if (after) {
    pager.append(h('a', { href: link('browse', { path }) }, 'First page'));
    pager.append(h('button', { type: 'button', onclick: () => {
      const prev = stack.pop();
      backStack.set(path, stack);
      location.hash = link('browse', prev ? { path, after: prev } : { path }).slice(1);
    } }, 'Previous page'));
  }
  if (d.next_after) {
    pager.append(h('button', { type: 'button', class: 'primary', onclick: () => {
      if (after) stack.push(after);
      backStack.set(path, stack);
      location.hash = link('browse', { path, after: d.next_after }).slice(1);
    } }, 'Next page'));
  }
  if (pager.childNodes.length) {
    pager.prepend(h('span', { class: 'sub' }, `${entries.length} entries on this page`));
    out.push(pager);
  }
  return out;
}

export function renderFile(main, params) {
  const path = params.get('path') || '/';
  const body = h('div', {}, loading('file'));
  replace(main, h('h1', {}, 'File'), crumbs(path), body);
  let alive = true;
  const load = note => api('/api/v1/files/stat', { query: { path } })
    .then(st => { if (alive) replace(body, fileView(st), policyPanel(st, (_, msg) => load(msg), note)); })
    .catch(e => { if (alive) replace(body, errorBox(e, `Stat of ${path}`)); });
  load();
  return () => { alive = false; };
}

// What a file's persistence state means for it, beside the state.
function persistenceNote(st) {
  const note = {
    not_persisted: ' — only the workers\' caches hold it; a persist job writes it to the store.',
    persisting: ' — a persist job is writing it to the store.',
    lost: ' — not in the store, and some block has no cached copy left: reads fail.',
  }[st.persistence];
  return note ? h('span', { class: st.persistence === 'lost' ? 'bad' : 'sub' }, note) : [];
}

function fileView(st) {
  const blocks = st.blocks || [];
  return [
    h('section', { class: 'card', 'aria-label': 'File details' },
      h('dl', { class: 'kv' },
        h('dt', {}, 'Path'), h('dd', {}, st.path),
        h('dt', {}, 'Type'), h('dd', {}, st.type),
        h('dt', {}, 'Size'), h('dd', {}, `${bytes(st.length)} (${st.length} bytes)`),
        h('dt', {}, 'Modified'), h('dd', {}, date(st.mtime_ms)),
        st.block_size ? [h('dt', {}, 'Block size'), h('dd', {}, bytes(st.block_size))] : [],
        st.cached_percent !== undefined ? [h('dt', {}, 'Cached'), h('dd', {}, pct(st.cached_percent / 100))] : [],
        st.persistence ? [h('dt', {}, 'Persistence'), h('dd', {}, persistenceCell(st), persistenceNote(st))] : [],
        h('dt', {}, 'Write type'), h('dd', {}, st.write_type || 'none (writes here are CACHE_THROUGH)'),
        st.etag ? [h('dt', {}, 'ETag'), h('dd', {}, st.etag)] : [])),
    st.type === 'directory' ? h('p', {}, h('a', { href: link('browse', { path: st.path }) }, 'Open the directory')) :
      h('section', { class: 'card', 'aria-label': 'Blocks' },
        h('h2', {}, `Blocks (${blocks.length})`),
        blocks.length ? table('Blocks', [
          { label: 'Index', num: true, cell: b => String(b.index) },
          { label: 'Block id', num: true, cell: b => String(b.id) },
          { label: 'Length', num: true, cell: b => bytes(b.length) },
          { label: 'Cached on', cls: 'name', cell: b => (b.locations && b.locations.length
            ? b.locations.map((l, i) => [i ? ', ' : '', `worker ${l.worker_id} (${l.address}) · ${l.tier}`])
            : h('span', { class: 'sub' }, 'not cached')) },
        ], blocks) : empty('No blocks: the file is empty or outside every mount.')),
  ];
}
