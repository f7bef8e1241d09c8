// Mounts: the list (secrets only as set/unset), the add form per store
// type, editing a mount's live options in a dialog, and unmount behind a
// confirmation naming the path.
import { api, canChange, READONLY_REASON } from '../api.js';
import { h, replace, errorBox, loading, empty, table } from '../dom.js';
import { bytes, date, duration } from '../fmt.js';

const SECRET = /secret|password|token/;

export function render(main) {
  const list = h('div', {}, loading('mounts'));
  const dialog = h('dialog', { 'aria-labelledby': 'unmount-title' });
  const editDialog = h('dialog', { class: 'form-dialog', 'aria-labelledby': 'edit-title' });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  replace(main, h('h1', {}, 'Mounts'), status,
    canChange() ? null : h('p', { class: 'readonly-note', id: 'readonly-note' }, READONLY_REASON),
    list, addForm(() => refresh()), dialog, editDialog);
  let alive = true;
  async function refresh() {
    try {
      const d = await api('/api/v1/mounts');
      if (alive) replace(list, mountTable(d.mounts || [], { dialog, editDialog }, status, refresh));
    } catch (e) {
      if (alive) replace(list, errorBox(e, 'Mounts'));
    }
  }
  refresh();
  return () => { alive = false; };
}

function storeType(uri) {
  const scheme = uri.split('://')[0];
  return { file: 'local', s3: 'S3' }[scheme] || scheme;
}

function optionsCell(m) {
  const opts = Object.entries(m.options || {});
  if (storeType(m.uri) === 'S3' && !('s3.secret_key' in (m.options || {})))
    opts.push(['s3.secret_key', null]);
  if (!opts.length) return h('span', { class: 'sub' }, 'none');
  return h('ul', { class: 'legend' }, opts.map(([k, v]) =>
    h('li', {}, `${k}: `, SECRET.test(k) ? h('em', {}, v ? 'set' : 'unset') : v)));
}

function syncText(ms) {
  if (ms < 0) return 'never';
  if (ms === 0) return 'always';
  return `every ${duration(ms)}`;
}

function mountTable(mounts, { dialog, editDialog }, status, refresh) {
  if (!mounts.length) return empty('No mounts yet: add one below.');
  return [table('Mounts', [
    { label: 'Path', cls: 'path', cell: m => h('a', { href: `#/browse?${new URLSearchParams({ path: m.path })}` }, m.path) },
    { label: 'Type', cell: m => storeType(m.uri) },
    { label: 'Store URI', cls: 'name', cell: m => m.uri },
    { label: 'Options', cls: 'name', cell: optionsCell },
    { label: 'Mode', cell: m => (m.readonly ? 'read-only' : 'read-write') },
    { label: 'Block size', num: true, cell: m => bytes(m.block_size) },
    { label: 'Sync', cell: m => syncText(m.sync_interval_ms) },
    { label: 'Created', cell: m => date(m.created_ms) },
    { label: 'Actions', cell: m => h('div', { class: 'actions' },
      h('button', { type: 'button',
        'aria-label': `Edit the options of ${m.path}`, disabled: !canChange(), title: canChange() ? undefined : READONLY_REASON,
        'aria-describedby': canChange() ? undefined : 'readonly-note',
        onclick: () => editMount(editDialog, m, status, refresh) }, 'Edit'),
      h('button', { type: 'button', class: 'danger',
        'aria-label': `Unmount ${m.path}`, disabled: !canChange(), title: canChange() ? undefined : READONLY_REASON,
        'aria-describedby': canChange() ? undefined : 'readonly-note',
        onclick: () => confirmUnmount(dialog, m.path, status, refresh) }, 'Unmount')) },
  ], mounts)];
}

function confirmUnmount(dialog, path, status, refresh) {
  const err = h('div');
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const ok = h('button', { type: 'button', class: 'danger', onclick: async () => {
    ok.disabled = true;
    try {
      await api('/api/v1/mounts', { method: 'DELETE', query: { path } });
      dialog.close();
      replace(status, h('p', { class: 'ok' }, `Unmounted ${path}.`));
      refresh();
    } catch (e) {
      replace(err, errorBox(e, `Unmounting ${path}`));
      ok.disabled = false;
    }
  } }, `Unmount ${path}`);
  replace(dialog,
    h('h2', { id: 'unmount-title' }, 'Unmount ', h('code', {}, path), '?'),
    h('p', {}, 'The files under it leave the namespace and their cached blocks are dropped; ',
      'the store itself is not touched.'),
    err, h('div', { class: 'actions' }, cancel, ok));
  dialog.showModal();
  cancel.focus();
}

// ---- editing a mount's live options (PUT /api/v1/mounts) ----

// What can change on a live mount; the store itself and its block size
// cannot (the server refuses them with 409).
const EDIT_FIELDS = {
  sync: { label: 'Sync interval', opt: 'sync_interval', hint: 'never, always, or a duration such as 30s or 5m; empty: the master\'s default' },
  ttl: { label: 'Default TTL', opt: 'ttl', hint: 'For what is created or loaded under the mount from now on, e.g. 7d; empty: none' },
  action: { label: 'When the TTL expires', opt: 'ttl_action', select: [['', 'delete (default)'], ['free', 'free the cached copies'], ['delete', 'delete from strata and the store']] },
  access: { label: 'Access key', opt: 's3.access_key', s3: true, hint: 'Empty: unchanged' },
  secret: { label: 'Secret key', opt: 's3.secret_key', s3: true, secret: true, hint: 'Empty: unchanged; never shown' },
};

function validateEdit(v) {
  const bad = {};
  if (v.sync && !/^(never|always|-?\d+|\d+\s*(ms|s|m|min|h|d))$/i.test(v.sync))
    bad.sync = 'never, always, or a duration such as 30s, 5m or 1h.';
  if (v.ttl && !/^\d+\s*(ms|s|m|min|h|d)$/i.test(v.ttl)) bad.ttl = 'A duration such as 12h or 7d.';
  if (v.action && !v.ttl) bad.action = 'Set a default TTL first.';
  return bad;
}

function editMount(dialog, m, status, refresh) {
  const isS3 = storeType(m.uri) === 'S3';
  const opts = m.options || {};
  const inputs = {}, errors = {};
  const formError = h('div', { 'aria-live': 'polite' });
  const rows = Object.entries(EDIT_FIELDS).filter(([, f]) => !f.s3 || isS3).map(([key, f]) => {
    const id = `e-${key}`;
    errors[key] = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
    const described = f.hint ? `${id}-hint ${id}-error` : `${id}-error`;
    if (f.select) {
      inputs[key] = h('select', { id, name: key, 'aria-describedby': described },
        f.select.map(([value, text]) => h('option', { value, selected: (opts[f.opt] || '') === value }, text)));
    } else {
      inputs[key] = h('input', { type: f.secret ? 'password' : 'text', id, name: key, autocomplete: 'off',
        spellcheck: 'false', 'aria-describedby': described,
        value: f.s3 ? '' : (opts[f.opt] || '') });
    }
    return h('div', { class: 'row' }, h('label', { for: id }, f.label), inputs[key],
      f.hint ? h('p', { class: 'hint', id: `${id}-hint` }, f.hint) : null, errors[key]);
  });
  function setError(key, msg) {
    errors[key].textContent = msg || '';
    if (msg) inputs[key].setAttribute('aria-invalid', 'true');
    else inputs[key].removeAttribute('aria-invalid');
  }
  // An error stays until its field changes, not after.
  for (const key of Object.keys(inputs)) inputs[key].addEventListener('input', () => setError(key, ''));
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h('form', { novalidate: true, method: 'dialog' },
    h('h2', { id: 'edit-title' }, 'Edit ', h('code', {}, m.path)),
    h('p', { class: 'sub' }, `${m.uri} · block size ${bytes(m.block_size)} (the store and the block size cannot change on a live mount)`),
    h('div', { class: 'fields' }, rows), formError,
    h('div', { class: 'actions' }, cancel, save));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const v = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
    replace(formError);
    const bad = validateEdit(v);
    for (const key of Object.keys(inputs)) setError(key, bad[key]);
    const first = Object.keys(inputs).find(k => bad[k]);
    if (first) { inputs[first].focus(); return; }
    const options = {};
    for (const [key, f] of Object.entries(EDIT_FIELDS)) {
      if (!(key in inputs)) continue;
      if (f.s3) { if (v[key]) options[f.opt] = v[key]; continue; }
      if (v[key]) options[f.opt] = v[key];
      else if (f.opt in opts) options[f.opt] = null;
    }
    save.disabled = true;
    try {
      const r = await api('/api/v1/mounts', { method: 'PUT', body: { path: m.path, options } });
      dialog.close();
      replace(status, h('p', { class: 'ok' }, r.changed ? `Updated the options of ${m.path}.` : `The options of ${m.path} were already so.`));
      refresh();
    } catch (e) {
      const msg = e.message || '';
      const key = Object.keys(inputs).find(k => msg.includes(`'${EDIT_FIELDS[k].opt}'`)) ||
        (e.code === 'permission_denied' && 'access' in inputs ? 'access' : null);
      if (key) { setError(key, msg); inputs[key].focus(); } else replace(formError, errorBox(e, 'The master refused the change'));
    } finally {
      save.disabled = false;
    }
  });
  replace(dialog, form);
  dialog.showModal();
  inputs.sync.focus();
}

// ---- the add form ----

const FIELDS = {
  path: { label: 'Mount point', hint: 'An absolute path in the namespace, e.g. /data', types: ['local', 's3'] },
  dir: { label: 'Directory', hint: 'An absolute directory on every worker and master, e.g. /srv/data', types: ['local'] },
  bucket: { label: 'Bucket', hint: 'e.g. my-bucket', types: ['s3'] },
  prefix: { label: 'Prefix', hint: 'Optional key prefix, e.g. logs/2026', types: ['s3'] },
  endpoint: { label: 'Endpoint', hint: 'Optional, for S3-compatible stores: http(s)://host:port', types: ['s3'], opt: 's3.endpoint' },
  region: { label: 'Region', hint: 'e.g. us-east-1', types: ['s3'], opt: 's3.region' },
  access: { label: 'Access key', hint: '', types: ['s3'], opt: 's3.access_key' },
  secret: { label: 'Secret key', hint: 'Stored by the master; never shown again', types: ['s3'], opt: 's3.secret_key', secret: true },
  block: { label: 'Block size', hint: 'Optional, 1MB..512MB, e.g. 4MB', types: ['local', 's3'], opt: 'block_size' },
  sync: { label: 'Sync interval', hint: 'Optional: never, always, or a duration such as 30s or 5m', types: ['local', 's3'], opt: 'sync_interval' },
};

function validate(type, v) {
  const bad = {};
  if (!v.path.startsWith('/')) bad.path = 'Must be an absolute path starting with /.';
  else if (v.path === '/') bad.path = 'Choose a path below /.';
  if (type === 'local') {
    if (!v.dir.startsWith('/')) bad.dir = 'Must be an absolute directory starting with /.';
  } else {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v.bucket))
      bad.bucket = 'Bucket names are 3-63 characters: lower-case letters, digits, dots and hyphens.';
    if (v.endpoint && !/^https?:\/\/[^/\s]+/.test(v.endpoint)) bad.endpoint = 'Must start with http:// or https://.';
    if (!v.access !== !v.secret) bad[v.access ? 'secret' : 'access'] = 'Give both keys, or neither.';
  }
  if (v.block && !/^\d+(\.\d+)?\s*([kmg]i?b?|b)?$/i.test(v.block)) bad.block = 'A size such as 4MB or 16MiB.';
  if (v.sync && !/^(never|always|\d+\s*(ms|s|m|min|h|d))$/i.test(v.sync))
    bad.sync = 'never, always, or a duration such as 30s, 5m or 1h.';
  return bad;
}

// The field a server error names, or null (then it goes above the button).
function fieldFor(msg, type) {
  for (const [key, f] of Object.entries(FIELDS))
    if (f.opt && (msg.includes(`'${f.opt}'`) || msg.includes(`option ${f.opt}`))) return key;
  if (/^path:|mount on '|mount point|field 'path'/.test(msg)) return 'path';
  if (/bucket/i.test(msg)) return type === 's3' ? 'bucket' : 'dir';
  if (/mount root|no UFS driver|field 'uri'/.test(msg)) return type === 's3' ? 'bucket' : 'dir';
  return null;
}

function addForm(onAdded) {
  const inputs = {}, errors = {}, rows = {};
  const typeSel = h('select', { id: 'm-type', name: 'type' },
    h('option', { value: 'local' }, 'Local directory (file://)'),
    h('option', { value: 's3' }, 'S3 bucket (s3://)'));
  const readonly = h('input', { type: 'checkbox', id: 'm-readonly', name: 'readonly' });
  const pathStyle = h('input', { type: 'checkbox', id: 'm-pathstyle', name: 'pathstyle' });
  const pathStyleRow = h('div', { class: 'check' }, pathStyle, h('label', { for: 'm-pathstyle' }, 'Path-style addressing (most S3-compatible stores)'));
  const formError = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary', disabled: !canChange(),
    title: canChange() ? undefined : READONLY_REASON,
    'aria-describedby': canChange() ? undefined : 'add-readonly' }, 'Add mount');
  const fields = Object.entries(FIELDS).map(([key, f]) => {
    const id = `m-${key}`;
    errors[key] = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
    inputs[key] = h('input', { type: f.secret ? 'password' : 'text', id, name: key, autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': `${id}-hint ${id}-error` });
    rows[key] = h('div', { class: 'row' }, h('label', { for: id }, f.label),
      inputs[key], h('p', { class: 'hint', id: `${id}-hint` }, f.hint), errors[key]);
    return rows[key];
  });
  function showType() {
    for (const [key, f] of Object.entries(FIELDS)) rows[key].hidden = !f.types.includes(typeSel.value);
    pathStyleRow.hidden = typeSel.value !== 's3';
  }
  typeSel.addEventListener('change', showType);
  function setError(key, msg) {
    errors[key].textContent = msg || '';
    if (msg) inputs[key].setAttribute('aria-invalid', 'true');
    else inputs[key].removeAttribute('aria-invalid');
  }
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'add-title' },
    h('h2', { id: 'add-title' }, 'Add a mount'),
    h('div', { class: 'fields' },
      h('div', { class: 'row' }, h('label', { for: 'm-type' }, 'Store type'), typeSel),
      fields),
    pathStyleRow,
    h('div', { class: 'check' }, readonly, h('label', { for: 'm-readonly' }, 'Read-only')),
    formError,
    h('div', { class: 'actions' }, submit,
      canChange() ? null : h('span', { class: 'readonly-note', id: 'add-readonly' }, READONLY_REASON)));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const type = typeSel.value;
    const v = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
    replace(formError);
    const bad = validate(type, v);
    for (const key of Object.keys(FIELDS)) setError(key, bad[key]);
    const first = Object.keys(FIELDS).find(k => bad[k]);
    if (first) { inputs[first].focus(); return; }
    const body = { path: v.path, readonly: readonly.checked, options: {} };
    if (type === 'local') {
      body.uri = `file://${v.dir}`;
    } else {
      body.uri = `s3://${v.bucket}/${v.prefix.replace(/^\/+/, '')}`;
      if (pathStyle.checked) body.options['s3.path_style'] = '1';
    }
    for (const [key, f] of Object.entries(FIELDS))
      if (f.opt && f.types.includes(type) && v[key]) body.options[f.opt] = v[key];
    submit.disabled = true;
    try {
      await api('/api/v1/mounts', { method: 'POST', body });
      form.reset();
      showType();
      replace(formError, h('p', { class: 'ok', role: 'status' }, `Mounted ${body.path}.`));
      onAdded();
    } catch (e) {
      const key = fieldFor(e.message || '', type);
      if (key) { setError(key, e.message); inputs[key].focus(); } else replace(formError, errorBox(e, 'The master refused the mount'));
    } finally {
      submit.disabled = !canChange();
    }
  });
  showType();
  return form;
}
