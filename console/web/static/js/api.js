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

export async function api(path, { method = 'GET', query, body, signal } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const init = { method, signal, headers: { Accept: 'application/json' } };
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
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, e ? e.code : 'http_' + res.status,
      e ? e.message : `${method} ${path} failed with ${res.status}`);
  }
  return data;
}
