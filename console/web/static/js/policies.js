// Pin, TTL, replication and write type of one path (file or directory),
// set and cleared through PUT/DELETE /api/v1/files/{pin,ttl,replication,
// write_type}, and the load/free/persist jobs over it; used by the file
// page and a directory's listing.
import { api, canChange, READONLY_REASON } from './api.js';
import { h, replace, errorBox } from './dom.js';
import { duration } from './fmt.js';

const UNITS = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000, d: 86400000 };

// "90s", "30m", "12h", "7d" -> ms, or null.
export function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)$/i.exec(text.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  return ms >= 1 ? ms : null;
}

// The short forms a listing shows.
export function pinText(n) {
  return n.pinned ? `pinned${n.pin_medium ? ` (${n.pin_medium})` : ''}` : '—';
}
export function ttlText(n) {
  if (!n.ttl_ms || n.ttl_ms < 0) return '—';
  const left = n.ttl_expiry_ms ? n.ttl_expiry_ms - Date.now() : null;
  const when = n.ttl_fired_ms ? ', fired' : left !== null ? (left > 0 ? `, in ${duration(left)}` : ', due') : '';
  return `${duration(n.ttl_ms)} → ${n.ttl_action || 'delete'}${when}`;
}
// repl_min 0 and repl_max -1 (unbounded) are the defaults: nothing set.
export function replText(n) {
  const min = n.repl_min || 0, max = n.repl_max ?? -1;
  if (min === 0 && max < 0) return '—';
  return `${min}..${max < 0 ? '∞' : max}`;
}
export const WRITE_TYPES = ['THROUGH', 'CACHE_THROUGH', 'ASYNC_THROUGH', 'MUST_CACHE'];
// "" is no policy of its own: writes below take CACHE_THROUGH.
export function writeTypeText(n) {
  return n.write_type || '—';
}
const PERSISTENCE = { persisted: 'persisted', not_persisted: 'not persisted', persisting: 'persisting', lost: 'LOST' };
// Files only (directories have no persistence): plain text for the usual
// states, a badge for the two that need a look, and LOST in red.
export function persistenceCell(n) {
  if (n.type === 'directory' || !n.persistence) return '—';
  const text = PERSISTENCE[n.persistence] || n.persistence;
  if (n.persistence === 'persisted') return text;
  const cls = n.persistence === 'lost' ? 'badge bad alarm' : 'badge warn';
  return h('span', { class: cls, title: n.persistence === 'lost'
    ? 'Not in the store, and some block has no cached copy left: reads fail (410 data_lost).'
    : n.persistence === 'persisting' ? 'A persist job is writing it to the store.'
      : 'Only the workers\' caches hold it (ASYNC_THROUGH before its persist job, or MUST_CACHE).' }, text);
}

let seq = 0;

// The panel: current values and a form per policy. onChange(inode, note)
// after a successful change (the caller renders the panel again, passing
// note back as `note` so the outcome stays on screen).
export function policyPanel(n, onChange, note) {
  const id = `pol${++seq}`;
  const isDir = n.type === 'directory';
  const status = h('div', { 'aria-live': 'polite' },
    note ? h('p', { class: 'ok', role: 'status' }, note) : []);
  const recursive = h('input', { type: 'checkbox', id: `${id}-rec` });
  const fieldErr = {};
  const err = key => (fieldErr[key] = h('p', { class: 'field-error', id: `${id}-${key}-error`, 'aria-live': 'polite' }));

  async function call(what, method, route, body, query, key) {
    replace(status);
    for (const e of Object.values(fieldErr)) e.textContent = '';
    try {
      const r = await api(route, { method, body, query });
      const msg = r && r.changed === false ? `${what}: already so, nothing changed.` : `${what}: done.`;
      replace(status, h('p', { class: 'ok', role: 'status' }, msg));
      if (onChange) onChange(r && r.inode, msg);
    } catch (e) {
      if (key && fieldErr[key]) fieldErr[key].textContent = e.message;
      else replace(status, errorBox(e, what));
    }
  }
  const rec = () => (isDir && recursive.checked ? true : undefined);
  const clear = (what, route) => call(what, 'DELETE', route, undefined,
    { path: n.path, recursive: rec() ? 'true' : undefined });

  // pin
  const medium = h('select', { id: `${id}-medium`, 'aria-describedby': `${id}-pin-error` },
    h('option', { value: '' }, 'any tier'), ['MEM', 'SSD', 'HDD'].map(t => h('option', { value: t }, t)));
  if (n.pin_medium) medium.value = n.pin_medium;
  const pinForm = h('form', { class: 'policy', 'aria-label': 'Pin' },
    h('div', { class: 'row' }, h('label', { for: `${id}-medium` }, `Pin (now: ${pinText(n)})`), medium, err('pin')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Pin'),
      h('button', { type: 'button', onclick: () => clear('Unpin', '/api/v1/files/pin') }, 'Unpin')));
  pinForm.addEventListener('submit', ev => {
    ev.preventDefault();
    call('Pin', 'PUT', '/api/v1/files/pin',
      { path: n.path, recursive: rec(), medium: medium.value || undefined }, undefined, 'pin');
  });

  // TTL
  const ttl = h('input', { type: 'text', id: `${id}-ttl`, placeholder: 'e.g. 12h or 7d', autocomplete: 'off',
    spellcheck: 'false', 'aria-describedby': `${id}-ttl-error` });
  const action = h('select', { id: `${id}-action` },
    h('option', { value: 'free' }, 'free (drop cached copies)'),
    h('option', { value: 'delete' }, 'delete (from strata and the store)'));
  if (n.ttl_action) action.value = n.ttl_action;
  const ttlForm = h('form', { class: 'policy', 'aria-label': 'Time to live', novalidate: true },
    h('div', { class: 'row' }, h('label', { for: `${id}-ttl` }, `Time to live (now: ${ttlText(n)})`), ttl, err('ttl')),
    h('div', { class: 'row' }, h('label', { for: `${id}-action` }, 'When it expires'), action),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Set TTL'),
      h('button', { type: 'button', onclick: () => clear('Clear TTL', '/api/v1/files/ttl') }, 'Clear TTL')));
  ttlForm.addEventListener('submit', ev => {
    ev.preventDefault();
    const ms = parseDuration(ttl.value);
    if (ms === null) {
      fieldErr.ttl.textContent = 'A duration such as 90s, 30m, 12h or 7d.';
      ttl.focus();
      return;
    }
    call('Set TTL', 'PUT', '/api/v1/files/ttl',
      { path: n.path, recursive: rec(), ttl_ms: ms, action: action.value }, undefined, 'ttl');
  });

  // replication
  const rmin = h('input', { type: 'number', id: `${id}-rmin`, min: 0, max: 64, value: n.repl_min || 0,
    'aria-describedby': `${id}-repl-error` });
  const rmax = h('input', { type: 'number', id: `${id}-rmax`, min: -1, max: 64, value: n.repl_max ?? -1,
    'aria-describedby': `${id}-repl-error` });
  const replForm = h('form', { class: 'policy', 'aria-label': 'Replication', novalidate: true },
    h('div', { class: 'row' }, h('label', { for: `${id}-rmin` }, `Minimum copies (now: ${replText(n)})`), rmin),
    h('div', { class: 'row' }, h('label', { for: `${id}-rmax` }, 'Maximum copies (-1: no limit)'), rmax, err('repl'),
      h('p', { class: 'hint' }, 'Copies of cached blocks on distinct live workers; at most 4 are tracked.')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Set replication'),
      h('button', { type: 'button', onclick: () => clear('Clear replication', '/api/v1/files/replication') }, 'Clear')));
  replForm.addEventListener('submit', ev => {
    ev.preventDefault();
    const min = Number(rmin.value), max = Number(rmax.value);
    if (!Number.isInteger(min) || min < 0 || min > 64 || !Number.isInteger(max) || max < -1 || max > 64 ||
        (max >= 0 && (max < 1 || max < min))) {
      fieldErr.repl.textContent = 'Minimum 0..64; maximum -1 (no limit) or 1..64 and at least the minimum.';
      return;
    }
    call('Set replication', 'PUT', '/api/v1/files/replication',
      { path: n.path, recursive: rec(), min, max }, undefined, 'repl');
  });

  // write type: what writes below choose when they do not say
  const wt = h('select', { id: `${id}-wt`, 'aria-describedby': `${id}-wt-error` },
    WRITE_TYPES.map(t => h('option', { value: t }, t)));
  wt.value = n.write_type || 'CACHE_THROUGH';
  const wtForm = h('form', { class: 'policy', 'aria-label': 'Write type' },
    h('div', { class: 'row' }, h('label', { for: `${id}-wt` }, `Write type (now: ${n.write_type || 'none'})`), wt, err('wt'),
      h('p', { class: 'hint' }, 'Of writes below that do not choose one; none: CACHE_THROUGH. ASYNC_THROUGH persists later, MUST_CACHE only if asked.')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Set write type'),
      h('button', { type: 'button', 'aria-label': 'Clear write type',
        onclick: () => clear('Clear write type', '/api/v1/files/write_type') }, 'Clear')));
  wtForm.addEventListener('submit', ev => {
    ev.preventDefault();
    call('Set write type', 'PUT', '/api/v1/files/write_type',
      { path: n.path, recursive: rec(), write_type: wt.value }, undefined, 'wt');
  });

  if (!canChange()) {
    for (const b of [pinForm, ttlForm, replForm, wtForm].flatMap(f => [...f.querySelectorAll('button')])) {
      b.disabled = true;
      b.title = READONLY_REASON;
      b.setAttribute('aria-describedby', `${id}-ro`);
    }
  }
  // load / free / persist: a job over the path (recursive for a directory)
  const jobStatus = h('div', { 'aria-live': 'polite' });
  const startJob = async type => {
    replace(jobStatus);
    try {
      const r = await api('/api/v1/jobs', { method: 'POST',
        body: { type, path: n.path, recursive: isDir ? true : undefined } });
      replace(jobStatus, h('p', { class: 'ok', role: 'status' }, `${type[0].toUpperCase()}${type.slice(1)} job ${r.id} started: `,
        h('a', { href: `#/jobs?id=${encodeURIComponent(r.id)}` }, 'watch its progress')));
    } catch (e) {
      replace(jobStatus, errorBox(e, `Starting a ${type} job`));
    }
  };
  const jobButtons = [
    h('button', { type: 'button', onclick: () => startJob('load') }, isDir ? 'Load all into the cache' : 'Load into the cache'),
    h('button', { type: 'button', onclick: () => startJob('free') }, isDir ? 'Free all cached copies' : 'Free cached copies'),
    h('button', { type: 'button', onclick: () => startJob('persist') }, isDir ? 'Persist all to the store' : 'Persist to the store'),
  ];
  if (!canChange())
    for (const b of jobButtons) { b.disabled = true; b.title = READONLY_REASON; }
  const jobs = h('div', { class: 'jobs-row' }, h('h3', {}, 'Data jobs'),
    h('div', { class: 'actions' }, jobButtons),
    h('p', { class: 'hint' }, 'Persist writes what only the caches hold (not persisted) to the store.'), jobStatus);
  return h('section', { class: 'card', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, isDir ? 'Policies of this directory' : 'Policies'),
    canChange() ? [] : h('p', { class: 'readonly-note', id: `${id}-ro` }, READONLY_REASON),
    isDir ? h('p', { class: 'sub' }, 'What is created or loaded below later inherits them.') : [],
    isDir ? h('div', { class: 'check' }, recursive, h('label', { for: `${id}-rec` }, 'Also apply to everything below it now')) : [],
    h('div', { class: 'policies' }, pinForm, ttlForm, replForm, wtForm),
    status,
    jobs);
}
