// The one way the console talks to the master: the public REST v1 API.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// What the console knows about the master serving it (set by app.js), used
// to explain a mutation refused by a follower.
export const session = { leaderAddress: '', role: '' };

// REST tokens (docs/security.md): the token the user signed in with lives
// in sessionStorage (this tab only, gone when it closes) and goes with every
// call as a Bearer header. app.js fills required/role from GET /api/v1/auth
// and sets onUnauthorized, which shows the sign-in dialog on any 401.
const TOKEN_KEY = 'strata.token';
export const auth = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  required: false,
  role: 'admin',
  onUnauthorized: null,
  onForbidden: null,
};

export function setToken(token) {
  auth.token = token || '';
  if (auth.token) sessionStorage.setItem(TOKEN_KEY, auth.token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Changes need an admin token (or auth off); say why when they are not.
export function canChange() {
  return !auth.required || auth.role === 'admin';
}
export const READONLY_REASON = 'You signed in with a readonly token: changes need an admin token.';

// GET /api/v1/auth with a given token (the current one by default).
export async function whoami(token = auth.token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch('/api/v1/auth', { headers });
  if (!res.ok) throw new ApiError(res.status, 'http_' + res.status, `GET /api/v1/auth failed with ${res.status}`);
  return res.json();
}

export async function api(path, { method = 'GET', query, body, signal } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const init = { method, signal, headers: { Accept: 'application/json' } };
  if (auth.token) init.headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  // A follower answers a change with 307 to the leader, and a read too
  // when answering needs a change (a directory not yet loaded from its
  // store): another origin this page may not call. Say so instead.
  init.redirect = 'manual';
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `the master did not answer (${e.message})`);
  }
  if (res.type === 'opaqueredirect') {
    const where = session.leaderAddress ? ` at ${session.leaderAddress}` : '';
    throw new ApiError(307, 'not_leader', method === 'GET'
      ? `this master is a follower and cannot answer this from its copy yet (the leader has to load it from the store first); open it on the leader's console${where}`
      : `this master is a follower; make changes on the leader's console${where}`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch {
      throw new ApiError(res.status, 'bad_reply', `unexpected reply (${res.status}) from ${path}`);
    }
  }
  if (res.status === 401 && auth.onUnauthorized) auth.onUnauthorized(data && data.error ? data.error.message : '');
  if (res.status === 403 && auth.onForbidden) auth.onForbidden();
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, e ? e.code : 'http_' + res.status,
      e ? e.message : `${method} ${path} failed with ${res.status}`);
  }
  return data;
}
