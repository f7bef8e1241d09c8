// The console shell: hash routes (#/page?k=v), the nav, and the line that
// says which master this is and who leads.
import { api, auth, session, setToken, whoami } from './api.js';
import { signIn, showSignedIn } from './auth.js';
import { h, replace, errorBox } from './dom.js';

const pages = {
  overview: () => import('./pages/overview.js'),
  mounts: () => import('./pages/mounts.js'),
  browse: () => import('./pages/browse.js'),
  file: () => import('./pages/browse.js').then(m => ({ render: m.renderFile })),
  workers: () => import('./pages/workers.js'),
  masters: () => import('./pages/masters.js'),
  jobs: () => import('./pages/jobs.js'),
};

const main = document.getElementById('main');
let cleanup = null;
let generation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [name, qs] = raw.split('?');
  return { name: name || 'overview', params: new URLSearchParams(qs || '') };
}

async function route() {
  const { name, params } = parseHash();
  const gen = ++generation;
  if (cleanup) { cleanup(); cleanup = null; }
  const navName = name === 'file' ? 'browse' : name;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === navName) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const load = pages[name];
  if (!load) {
    replace(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no console page named ', h('code', {}, name), '. ',
      h('a', { href: '#/overview' }, 'Go to the overview'), '.'));
    return;
  }
  try {
    const mod = await load();
    if (gen !== generation) return;
    cleanup = mod.render(main, params) || null;
  } catch (e) {
    replace(main, errorBox(e, 'This page could not be loaded'));
  }
  document.getElementById('nav').classList.remove('open');
  document.querySelector('.menu-toggle').setAttribute('aria-expanded', 'false');
}

// Who serves this page and who leads; a follower's console says so.
async function refreshLeader() {
  const el = document.getElementById('leader');
  try {
    const c = await api('/api/v1/cluster');
    const r = c.raft || {};
    session.role = r.role || '';
    session.leaderAddress = c.leader || '';
    showFeatures(c.features);
    const me = (c.masters || []).find(m => m.self);
    const self = me ? me.address : location.host;
    if (r.role === 'leader') {
      replace(el, `Master ${r.id} (${self}) · leader · term ${r.term}`);
    } else if (c.leader) {
      const url = `${location.protocol}//${c.leader}/`;
      replace(el, `Master ${r.id} is a ${r.role || 'follower'} · leader: `,
        h('a', { href: url }, c.leader));
    } else {
      replace(el, h('span', { class: 'warn' }, `Master ${r.id} (${r.role || 'unknown'}) · no leader known`));
    }
  } catch (e) {
    replace(el, h('span', { class: 'bad' }, `master unreachable: ${e.message}`));
  }
}

// Features that arrive with later API versions (jobs, policies, auth) keep
// their nav entry hidden until GET /api/v1/cluster lists them in
// "features" (an array of names the issues adding them will fill in).
function showFeatures(features) {
  for (const li of document.querySelectorAll('[data-feature]'))
    li.hidden = !(features || []).includes(li.dataset.feature);
}

document.querySelector('.menu-toggle').addEventListener('click', e => {
  const nav = document.getElementById('nav');
  const open = nav.classList.toggle('open');
  e.currentTarget.setAttribute('aria-expanded', String(open));
});
// REST auth first: with auth on and no valid token, the sign-in dialog and
// nothing else; later 401s (a token revoked meanwhile) bring it back.
async function start() {
  let who = null;
  try {
    who = await whoami();
  } catch {
    // An older master without /api/v1/auth, or none at all: carry on, the
    // pages say what fails.
  }
  if (who) {
    auth.required = who.required;
    auth.role = who.role;
  }
  auth.onUnauthorized = msg => {
    setToken('');
    auth.role = null;
    signIn(`The master refused the token${msg ? ` (${msg})` : ''}: sign in again.`);
  };
  // A 403 may mean the token lost its admin role meanwhile: ask again, so
  // the header says so and the next page hides what it cannot change.
  auth.onForbidden = async () => {
    try {
      const now = await whoami();
      if (now.role && now.role !== auth.role) {
        auth.role = now.role;
        showSignedIn(document.getElementById('auth'));
      }
    } catch {
      // the page's own error box says what failed
    }
  };
  showSignedIn(document.getElementById('auth'));
  if (who && who.required && !who.role) {
    if (who.token === 'refused') setToken('');
    replace(main, h('p', { class: 'loading' }, 'Sign in to see the cluster.'));
    signIn(who.token === 'refused' ? 'Your token was refused (wrong or revoked): sign in again.'
      : 'This strata cluster needs a token.');
    return;
  }
  window.addEventListener('hashchange', route);
  route();
  refreshLeader();
  setInterval(refreshLeader, 10000);
}
start();
