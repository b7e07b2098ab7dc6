// The shell: hash routes, the session header, sign-out, and auto-refresh while the tab is visible.
import { clearToken, getToken } from './api.js';
import { h, replace } from './dom.js';
import { tokenClaims } from './format.js';
import { jobView } from './job.js';
import { logsView } from './logs.js';
import { overviewView } from './overview.js';
import { signInView } from './signin.js';

const REFRESH_MS = 5000;
const view = document.getElementById('view');
const nav = document.getElementById('nav');
const session = document.getElementById('session');

let current = null;        // {refresh?, destroy?} of the view on screen
let refreshing = false;
let autoRefresh = true;
let signInMessage = '';

/** {name, params, query} of the location hash: #/, #/job/{sp}/{job}, #/logs?… */
export function route(hash = window.location.hash) {
  const [pathPart, queryPart = ''] = hash.replace(/^#/, '').split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(queryPart));
  if (parts[0] === 'job' && parts.length === 3) return { name: 'job', params: { sp: parts[1], job: parts[2] }, query };
  if (parts[0] === 'logs') return { name: 'logs', params: {}, query };
  return { name: 'overview', params: {}, query };
}

function renderSession() {
  const claims = tokenClaims(getToken());
  if (!claims) {
    session.hidden = true;
    nav.hidden = true;
    return;
  }
  const who = claims.app_displayname || claims.appid || 'client';
  const expires = claims.exp ? new Date(claims.exp * 1000) : null;
  const toggle = h('input', { type: 'checkbox', id: 'auto-refresh', checked: autoRefresh });
  toggle.addEventListener('change', () => { autoRefresh = toggle.checked; });
  replace(session,
    h('label', { class: 'auto-refresh', for: 'auto-refresh', title: 'Refresh every few seconds while this tab is visible' },
      toggle, ' Auto-refresh'),
    h('span', { class: 'who', title: `Tenant ${claims.tid || '?'} · roles: ${(claims.roles || []).join(', ') || 'none'}` },
      h('span', { class: 'who-name' }, who),
      h('span', { class: 'who-tenant muted small' }, `tenant ${String(claims.tid || '?').slice(0, 8)}…`),
      expires ? h('span', { class: 'muted small' }, ` · until ${expires.toLocaleTimeString()}`) : null),
    h('button', { type: 'button', class: 'button subtle', onclick: signOut }, 'Sign out'));
  session.hidden = false;
  nav.hidden = false;
}

function markNav(name) {
  for (const link of nav.querySelectorAll('a[data-nav]')) {
    if (link.dataset.nav === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** Draw the view of the location. After a route change the focus moves to it (screen readers
 *  hear the new page); on the first load it stays at the top, so Tab reaches the skip link first. */
function show({ focus = true } = {}) {
  current?.destroy?.();
  current = null;
  renderSession();
  if (!getToken()) {
    markNav('');
    current = signInView(view, { message: signInMessage, onSignedIn: () => { signInMessage = ''; show(); } });
    return;
  }
  const where = route();
  markNav(where.name === 'job' ? 'overview' : where.name);
  const views = { overview: overviewView, job: jobView, logs: logsView };
  current = views[where.name](view, where);
  if (focus) view.focus({ preventScroll: true });
}

function signOut() {
  clearToken();
  signInMessage = 'You are signed out.';
  if (window.location.hash && window.location.hash !== '#/') window.location.hash = '#/';
  show();
}

async function tick() {
  if (!autoRefresh || refreshing || document.visibilityState !== 'visible' || !current?.refresh) return;
  refreshing = true;
  try {
    await current.refresh();
  } finally {
    refreshing = false;
  }
}

// Links to a place on the page (#view, #h-config) are not routes: following one moves the focus
// there instead of changing the hash (which would re-route). The skip link is one of them.
document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[href^="#"]');
  const href = link?.getAttribute('href') || '';
  if (!link || href.startsWith('#/') || href === '#') return;
  const target = document.getElementById(decodeURIComponent(href.slice(1)));
  if (!target) return;
  event.preventDefault();
  if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
  target.focus({ preventScroll: true });
  target.scrollIntoView({ block: 'start', behavior: window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
});

window.addEventListener('hashchange', (event) => {
  // a place-on-the-page hash typed or bookmarked by hand is not a route change either
  if (window.location.hash && !window.location.hash.startsWith('#/') && document.getElementById(window.location.hash.slice(1))) return;
  show();
});
window.addEventListener('graphsync:unauthorized', (event) => {
  signInMessage = event.detail || 'Please sign in again.';
  clearToken();
  show();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') tick();
});
setInterval(tick, REFRESH_MS);
show({ focus: false });
