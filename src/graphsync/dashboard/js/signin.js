// Sign-in: client credentials against the token endpoint, or a pasted token.
import { requestToken, setToken } from './api.js';
import { errorBox, h, replace } from './dom.js';
import { tokenClaims } from './format.js';

export function signInView(root, { message, onSignedIn }) {
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const tenant = h('input', { id: 'tenant', name: 'tenant', required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: '00000000-0000-0000-0000-000000000000' });
  const clientId = h('input', { id: 'client-id', name: 'client_id', required: true, autocomplete: 'username',
    spellcheck: 'false' });
  const secret = h('input', { id: 'client-secret', name: 'client_secret', type: 'password', required: true,
    autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');

  const credentials = h('form', { class: 'card form', 'aria-labelledby': 'cred-title' },
    h('h2', { id: 'cred-title' }, 'Client credentials'),
    h('p', { class: 'muted' }, 'A client of this graphsync server (graphsync client create …). The secret goes to the token endpoint only; the token is kept in this tab until you sign out or close it.'),
    field('Tenant id', tenant),
    field('Client (application) id', clientId),
    field('Client secret', secret),
    h('div', { class: 'actions' }, submit));

  credentials.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(status, h('p', { role: 'status' }, 'Requesting a token…'));
    try {
      const token = await requestToken(tenant.value.trim(), clientId.value.trim(), secret.value);
      secret.value = '';
      setToken(token);
      onSignedIn();
    } catch (error) {
      replace(status, errorBox(error, 'sign in'));
      submit.disabled = false;
    }
  });

  const pasted = h('textarea', { id: 'token', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'eyJ…' });
  const pasteStatus = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const paste = h('form', { class: 'card form', 'aria-labelledby': 'paste-title' },
    h('h2', { id: 'paste-title' }, 'Access token'),
    h('p', { class: 'muted' }, 'Or paste a token, for example from graphsync token.'),
    field('Bearer token', pasted),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Use this token')));

  paste.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = pasted.value.trim().replace(/^Bearer\s+/i, '');
    const claims = tokenClaims(token);
    if (!claims) {
      replace(pasteStatus, errorBox({ message: 'This is not a JWT access token (three base64url parts).' }, 'use this token'));
      return;
    }
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      replace(pasteStatus, errorBox({ message: 'This token has expired; get a new one.' }, 'use this token'));
      return;
    }
    setToken(token);
    onSignedIn();
  });

  replace(root,
    h('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title' }, 'Sign in to graphsync'),
      message ? h('p', { class: 'notice', role: 'alert' }, message) : null,
      h('div', { class: 'signin-grid' },
        h('div', {}, credentials, status),
        h('div', {}, paste, pasteStatus))));
  tenant.focus();
  return {};
}

function field(label, input) {
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
}
