// DOM building without HTML strings: every piece of data becomes a text node, so nothing the API
// returns can ever be interpreted as markup.

/**
 * h('a', {href: '#/x', class: 'link'}, 'text', child, [more, children])
 * Attributes are set with setAttribute (or as properties for `on*` handlers); children are nodes
 * or strings (text nodes). null/undefined/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(name, '');
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.append(child);
    else node.append(document.createTextNode(String(child)));
  }
}

/** Replace the children of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A status badge: icon + word + colour (never colour alone). `b` is {tone, icon, label}. */
export function badge(b, extra) {
  return h('span', { class: `badge tone-${b.tone}` },
    h('span', { class: 'badge-icon', 'aria-hidden': 'true' }, b.icon), ' ', b.label, extra ? ` · ${extra}` : null);
}

/** A loading placeholder that screen readers announce. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** An empty state: a title and a sentence of what to do. */
export function empty(title, text, ...actions) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text ? h('p', {}, text) : null,
    actions.length ? h('p', {}, actions) : null);
}

/** An error shown where the content would have been. 403s say which permission is missing. */
export function errorBox(error, what) {
  const forbidden = error?.status === 403;
  const title = forbidden ? 'Permission needed' : `Could not ${what || 'load this'}`;
  return h('div', { class: 'error-box', role: 'alert' },
    h('p', { class: 'error-title' }, h('span', { 'aria-hidden': 'true' }, '✖ '), title),
    h('p', {}, error?.message || String(error)),
    error?.code ? h('p', { class: 'muted small' }, `Error code: ${error.code}${error.status ? ` (HTTP ${error.status})` : ''}`) : null);
}

/** A <dl> of [term, description] pairs (descriptions may be nodes). */
export function facts(pairs, className = 'facts') {
  return h('dl', { class: className }, pairs.filter(Boolean).map(([term, value]) => [
    h('dt', {}, term), h('dd', {}, value ?? '—'),
  ]));
}

/** Announce a short message to everyone (visible toast + polite live region). */
export function toast(text, tone = 'ok') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h('p', { class: `toast tone-${tone}` }, text);
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

/** A labelled form field: <div class="field"><label for=…>…</label> input [hint]</div>. */
export function field(label, input, hint) {
  const hintId = hint ? `${input.id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/** A success line for a form's status region. */
export function done(text) {
  return h('p', { class: 'ok-text' }, h('span', { 'aria-hidden': 'true' }, '✔ '), text);
}

/** Save `text` as a file named `name` (a Blob URL, so nothing leaves the browser). */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}
