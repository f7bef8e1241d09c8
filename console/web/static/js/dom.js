import { session } from './api.js';

// DOM building without markup: every string becomes a text node, so names
// from the cluster (file names, URIs) can never turn into HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// An error box for a failed call, in place of the thing that failed.
// A follower's refusal links the same page on the leader's console.
export function errorBox(err, what) {
  const msg = err && err.message ? err.message : String(err);
  const leader = err && err.code === 'not_leader' && session.leaderAddress
    ? [' ', h('a', { href: `${location.protocol}//${session.leaderAddress}/${location.hash}` }, 'Open this page on the leader')]
    : [];
  return h('div', { class: 'error', role: 'alert' },
    what ? `${what}: ` : '', msg, err && err.code ? ` (${err.code})` : '', leader);
}

export function loading(what) {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

// A table; cols: [{label, num, wide, cell(row) -> node|string}]. Narrow
// screens show each row as label/value pairs (data-label), or with stack
// false keep the table and drop the columns marked wide (long listings).
export function table(caption, cols, rows, { stack = true } = {}) {
  const cls = c => [c.num ? 'num' : c.cls, c.wide ? 'wide' : ''].filter(Boolean).join(' ') || undefined;
  return h('div', { class: 'table-wrap' },
    h('table', { class: stack ? 'stack' : undefined },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, cols.map(c => h('th', { scope: 'col', class: cls(c) }, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', {}, cols.map(c =>
        h('td', { 'data-label': c.label, class: cls(c) }, h('div', {}, c.cell(r)))))))));
}

// A usage bar with its numbers said in text for screen readers.
export function bar(used, total, label) {
  const frac = total > 0 ? Math.min(1, used / total) : 0;
  const fill = h('span');
  fill.style.width = `${(frac * 100).toFixed(1)}%`;
  return h('div', {
    class: frac > 0.9 ? 'bar high' : 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': Math.round(frac * 100), 'aria-label': label,
  }, fill);
}
