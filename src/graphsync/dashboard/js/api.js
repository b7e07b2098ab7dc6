// The dashboard is an ordinary Graph client: a bearer token, same-origin calls to the public API.
// The token lives in sessionStorage only (gone when the tab closes); nothing else is stored.

const TOKEN_KEY = 'graphsync.dashboard.token';

/** Every API path the dashboard calls (tests check each one exists and needs a token). */
export const API_PATHS = {
  token: '/{tenant}/oauth2/v2.0/token',
  servicePrincipals: '/v1.0/servicePrincipals',
  servicePrincipal: '/v1.0/servicePrincipals/{sp}',
  jobs: '/v1.0/servicePrincipals/{sp}/synchronization/jobs',
  job: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}',
  start: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/start',
  pause: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/pause',
  restart: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/restart',
  provisionOnDemand: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/provisionOnDemand',
  validateCredentials: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials',
  schema: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema',
  parseExpression: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema/parseExpression',
  filterOperators: '/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema/filterOperators',
  secrets: '/v1.0/servicePrincipals/{sp}/synchronization/secrets',
  logs: '/v1.0/auditLogs/provisioning',
  users: '/v1.0/users',
  user: '/v1.0/users/{user}',
  groups: '/v1.0/groups',
};

/** The methods the dashboard uses on each path other than GET (tests check each is accepted). */
export const API_WRITES = {
  start: ['POST'], pause: ['POST'], restart: ['POST'], provisionOnDemand: ['POST'], validateCredentials: ['POST'],
  parseExpression: ['POST'], job: ['PATCH'], schema: ['PUT'], secrets: ['PUT'],
};

/** A failed call: HTTP status, Graph error code and message (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled: nothing kept */ }
}

/** `template` with `{name}` replaced by the URL-encoded values. */
export function path(name, values = {}) {
  return API_PATHS[name].replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(values[key] ?? ''));
}

async function errorOf(response) {
  let code = `HTTP${response.status}`;
  let message = response.statusText || `The server answered ${response.status}.`;
  try {
    const body = await response.json();
    if (body?.error && typeof body.error === 'object') {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (typeof body?.error === 'string') {  // the token endpoint's OAuth errors
      code = body.error;
      message = body.error_description || message;
    }
  } catch { /* not JSON: keep the status text */ }
  return new ApiError(response.status, code, message);
}

/**
 * A Graph call with the session's token. `url` is a path from `path()` (with query) or an
 * @odata.nextLink. A 401 signs the user out (the `graphsync:unauthorized` event) and throws.
 */
export async function graph(url, { method = 'GET', body, signal } = {}) {
  const token = getToken();
  if (!token) {
    window.dispatchEvent(new CustomEvent('graphsync:unauthorized', { detail: 'Please sign in.' }));
    throw new ApiError(401, 'NotSignedIn', 'Please sign in.');
  }
  // Only the path and query are used: the token goes to this origin and nowhere else, even when
  // an @odata.nextLink names the server by another host name (GRAPHSYNC_PUBLIC_URL, a proxy).
  const target = new URL(url, window.location.origin);
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(target.pathname + target.search, {
      method, headers, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'NetworkError', 'The server could not be reached. Is graphsync running?');
  }
  if (response.status === 401) {
    const error = await errorOf(response);
    clearToken();
    window.dispatchEvent(new CustomEvent('graphsync:unauthorized', {
      detail: `Your session ended: ${error.message}`,
    }));
    throw error;
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Every item of a collection, following @odata.nextLink (at most `limit` items); `onPage(n)`
 *  hears how many have arrived so far. */
export async function listAll(url, { limit = 2000, signal, onPage } = {}) {
  const items = [];
  let next = url;
  while (next && items.length < limit) {
    const page = await graph(next, { signal });
    items.push(...(page?.value || []));
    next = page?.['@odata.nextLink'];
    onPage?.(items.length);
  }
  return items.slice(0, limit);
}

/** How many items a collection query selects ($count=true, one item fetched). */
export async function countOf(url) {
  const separator = url.includes('?') ? '&' : '?';
  const page = await graph(`${url}${separator}$count=true&$top=1`);
  return typeof page?.['@odata.count'] === 'number' ? page['@odata.count'] : (page?.value || []).length;
}

/** Client-credentials token from the token endpoint (the same one the CLI and SDKs use). */
export async function requestToken(tenant, clientId, clientSecret) {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope: 'https://graph.microsoft.com/.default',
  });
  let response;
  try {
    response = await fetch(path('token', { tenant }), {
      method: 'POST', body: form, cache: 'no-store', credentials: 'omit',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  } catch {
    throw new ApiError(0, 'NetworkError', 'The server could not be reached. Is graphsync running?');
  }
  if (!response.ok) throw await errorOf(response);
  const body = await response.json();
  return body.access_token;
}

/** Run `work(item)` over `items`, at most `limit` at a time; results in order. */
export async function pool(items, limit, work) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
