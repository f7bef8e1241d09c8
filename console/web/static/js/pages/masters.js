// Masters: the Raft group, each member asked by the master serving this
// page; add a member (its address first, then the Raft change) and remove
// one behind a confirmation naming it.
import { api, canChange, READONLY_REASON } from '../api.js';
import { h, replace, errorBox, loading, empty, table } from '../dom.js';

export function render(main) {
  const body = h('div', {}, loading('masters'));
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const dialog = h('dialog', { 'aria-labelledby': 'remove-title' });
  replace(main, h('h1', {}, 'Masters'), status, body, addForm(() => tick()), dialog);
  let alive = true;
  async function tick() {
    try {
      const m = await api('/api/v1/masters');
      if (alive) replace(body, view(m, dialog, status, tick));
    } catch (e) {
      if (alive) replace(body, errorBox(e, 'Masters'));
    }
  }
  tick();
  const timer = setInterval(tick, 5000);
  return () => { alive = false; clearInterval(timer); };
}

function confirmRemove(dialog, x, status, refresh) {
  const err = h('div');
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const ok = h('button', { type: 'button', class: 'danger', onclick: async () => {
    ok.disabled = true;
    try {
      await api(`/api/v1/masters/${encodeURIComponent(x.id)}`, { method: 'DELETE' });
      dialog.close();
      replace(status, h('p', { class: 'ok' }, `Removed master ${x.id} from the group.`));
      refresh();
    } catch (e) {
      replace(err, errorBox(e, `Removing master ${x.id}`));
      ok.disabled = false;
    }
  } }, `Remove master ${x.id}`);
  replace(dialog,
    h('h2', { id: 'remove-title' }, `Remove master ${x.id} (${x.raft_address})?`),
    h('p', {}, x.role === 'leader'
      ? 'It leads now: once the change commits it steps down and the others elect a new leader. '
      : 'It stops being a voter once the change commits. ',
      'Stop its daemon afterwards; the group needs a majority of the remaining members to keep working.'),
    err, h('div', { class: 'actions' }, cancel, ok));
  dialog.showModal();
  cancel.focus();
}

const FIELDS = {
  id: { label: 'Master id', hint: 'A number not used by any member (its master.id).' },
  raft: { label: 'Raft address', hint: 'host:port of its Raft transport (master.raft_port).' },
  rest: { label: 'REST URL', hint: 'http(s)://host:port of its REST API.' },
};

function addForm(onAdded) {
  const inputs = {}, errors = {};
  const formError = h('div', { 'aria-live': 'polite' });
  const ro = !canChange();
  const submit = h('button', { type: 'submit', class: 'primary', disabled: ro, title: ro ? READONLY_REASON : undefined,
    'aria-describedby': ro ? 'addm-readonly' : undefined }, 'Add master');
  const rows = Object.entries(FIELDS).map(([key, f]) => {
    const id = `ma-${key}`;
    errors[key] = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' });
    inputs[key] = h('input', { type: 'text', id, name: key, autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `${id}-hint ${id}-error` });
    return h('div', { class: 'row' }, h('label', { for: id }, f.label), inputs[key],
      h('p', { class: 'hint', id: `${id}-hint` }, f.hint), errors[key]);
  });
  const setError = (key, msg) => {
    errors[key].textContent = msg || '';
    if (msg) inputs[key].setAttribute('aria-invalid', 'true'); else inputs[key].removeAttribute('aria-invalid');
  };
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'addm-title' },
    h('h2', { id: 'addm-title' }, 'Add a master'),
    h('p', { class: 'sub' }, 'Start the new master with master.join=true and master.peers listing the group and itself, then add it here.'),
    h('div', { class: 'fields' }, rows), formError, h('div', { class: 'actions' }, submit,
      ro ? h('span', { class: 'readonly-note', id: 'addm-readonly' }, READONLY_REASON) : null));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const v = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
    const bad = {};
    if (!/^[1-9]\d{0,17}$/.test(v.id)) bad.id = 'A positive whole number.';
    if (!/^[^\s/:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(v.raft)) bad.raft = 'host:port, e.g. 10.0.0.3:19200.';
    if (!/^https?:\/\/[^/\s]+$/.test(v.rest)) bad.rest = 'http:// or https:// and host:port, nothing after.';
    for (const k of Object.keys(FIELDS)) setError(k, bad[k]);
    replace(formError);
    const first = Object.keys(FIELDS).find(k => bad[k]);
    if (first) { inputs[first].focus(); return; }
    submit.disabled = true;
    try {
      await api('/api/v1/masters', { method: 'POST', body: { id: Number(v.id), raft_address: v.raft, rest_url: v.rest } });
      form.reset();
      replace(formError, h('p', { class: 'ok', role: 'status' }, `Added master ${v.id}.`));
      onAdded();
    } catch (e) {
      const m = e.message || '';
      const key = /field 'id'|master \d+ is already|already_exists/.test(m + e.code) ? 'id'
        : /raft_address/.test(m) ? 'raft' : /rest_url/.test(m) ? 'rest' : null;
      if (key) { setError(key, m); inputs[key].focus(); } else replace(formError, errorBox(e, 'The leader refused the change'));
    } finally {
      submit.disabled = !canChange();
    }
  });
  return form;
}

function view(m, dialog, status, refresh) {
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
      { label: 'Actions', cell: x => h('button', { type: 'button', class: 'danger', 'aria-label': `Remove master ${x.id}`,
        disabled: !canChange(), title: canChange() ? undefined : READONLY_REASON,
        onclick: () => confirmRemove(dialog, x, status, refresh) }, 'Remove') },
    ], list),
  ];
}
