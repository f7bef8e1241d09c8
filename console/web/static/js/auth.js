// The sign-in dialog and the header's "signed in" line (REST tokens,
// docs/security.md). A token is checked with GET /api/v1/auth before it is
// kept; a wrong one is refused in place with a visible message.
import { auth, setToken, whoami } from './api.js';
import { h, replace } from './dom.js';

let dialog = null;

function build() {
  const input = h('input', { type: 'password', id: 'signin-token', name: 'token', autocomplete: 'off',
    spellcheck: 'false', 'aria-describedby': 'signin-hint signin-error', required: true });
  const error = h('p', { class: 'field-error', id: 'signin-error', role: 'alert' });
  const note = h('p', { class: 'hint', id: 'signin-note' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { method: 'dialog', novalidate: true },
    h('h2', { id: 'signin-title' }, 'Sign in'),
    note,
    h('div', { class: 'row' },
      h('label', { for: 'signin-token' }, 'Token'),
      input,
      h('p', { class: 'hint', id: 'signin-hint' },
        'A REST token (stk_…) from an admin: ', h('code', {}, 'strata admin token create'),
        '. It is kept in this tab only.')),
    error,
    h('div', { class: 'actions' }, submit));
  const d = h('dialog', { id: 'signin', 'aria-labelledby': 'signin-title' }, form);
  // Nothing works without a token: the dialog cannot be dismissed.
  d.addEventListener('cancel', ev => ev.preventDefault());
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const token = input.value.trim();
    input.removeAttribute('aria-invalid');
    if (!token) {
      error.textContent = 'Enter a token.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = '';
    try {
      const who = await whoami(token);
      if (!who.role) {
        error.textContent = 'That token was not accepted: it is wrong, malformed or revoked.';
        input.setAttribute('aria-invalid', 'true');
        input.select();
        return;
      }
      setToken(token);
      input.value = '';
      // A fresh start with the token: every page and the header again.
      location.reload();
    } catch (e) {
      error.textContent = `The master did not answer: ${e.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  document.body.append(d);
  return { d, input, note };
}

// Shows the dialog (once); note says why (first visit, refused token).
export function signIn(note) {
  if (!dialog) dialog = build();
  dialog.note.textContent = note || 'This strata cluster needs a token.';
  if (!dialog.d.open) dialog.d.showModal();
  dialog.input.focus();
}

// The header's line: role and a sign-out button, when auth is on.
export function showSignedIn(el) {
  if (!auth.required || !auth.role) {
    replace(el);
    el.hidden = true;
    return;
  }
  el.hidden = false;
  replace(el, `Signed in · ${auth.role} token `,
    h('button', { type: 'button', class: 'link', onclick: () => {
      setToken('');
      location.reload();
    } }, 'Sign out'));
}
