// Find a person or group in the directory by name, sign-in name or mail (never by GUID alone):
// a search box, and the matches as radio buttons (keyboard and screen readers work as usual).
import { graph, path } from './api.js';
import { h, replace } from './dom.js';
import { groupsFilter, peopleFilter } from './format.js';

const DELAY_MS = 250;
const MATCHES = 8;

/**
 * { node, clear(), focus() }. `kind()` says 'User' or 'Group'; `onPick(item)` hears the choice
 * ({id, displayName, detail}) or null. With `allowRaw`, the text itself can be picked as an id
 * (for identities the directory does not hold, such as an HR system's worker ids).
 */
export function picker({ id, label, hint, kind = () => 'User', onPick, allowRaw = false }) {
  const input = h('input', { id, type: 'search', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': `${id}-hint ${id}-status`, 'aria-controls': `${id}-matches` });
  const status = h('p', { class: 'hint', id: `${id}-status`, role: 'status' });
  const matches = h('fieldset', { class: 'matches', id: `${id}-matches`, hidden: true });
  let timer = null;
  let generation = 0;
  let chosen = null;

  function pick(item) {
    chosen = item;
    onPick?.(item);
  }

  async function search() {
    const text = input.value.trim();
    const mine = ++generation;
    if (!text) {
      matches.hidden = true;
      status.textContent = '';
      if (chosen) pick(null);
      return;
    }
    status.textContent = 'Searching…';
    const isGroup = kind() === 'Group';
    const params = new URLSearchParams({
      $filter: isGroup ? groupsFilter(text) : peopleFilter(text),
      $top: String(MATCHES),
      $select: isGroup ? 'id,displayName,mail,description' : 'id,displayName,userPrincipalName,mail',
    });
    let found = [];
    let problem = null;
    try {
      found = (await graph(`${path(isGroup ? 'groups' : 'users')}?${params}`))?.value || [];
    } catch (error) {
      if (error.status === 401) return;
      problem = error;
    }
    if (mine !== generation) return;
    const items = found.map((item) => ({
      id: item.id, displayName: item.displayName || item.id,
      detail: isGroup ? (item.mail || item.description || '') : (item.userPrincipalName || item.mail || ''),
    }));
    if (allowRaw && !items.some((item) => item.id === text)) {
      items.push({ id: text, displayName: text, detail: 'use this text as the source id', raw: true });
    }
    const noun = isGroup ? 'group' : 'person';
    status.textContent = problem
      ? `The directory search failed: ${problem.message}`
      : `${found.length || 'No'} ${found.length === 1 ? noun : (isGroup ? 'groups' : 'people')} found${found.length === MATCHES ? ' (the first few; type more to narrow)' : ''}.`;
    if (!items.length) {
      matches.hidden = true;
      return;
    }
    replace(matches, h('legend', { class: 'sr-only' }, `Matches for ${text}`), items.map((item, i) => {
      const radio = h('input', { type: 'radio', name: `${id}-match`, id: `${id}-m${i}`, value: item.id,
        checked: chosen?.id === item.id });
      radio.addEventListener('change', () => { if (radio.checked) pick(item); });
      return h('div', { class: 'match' }, radio,
        h('label', { for: `${id}-m${i}` }, h('span', { class: 'match-name' }, item.displayName),
          item.detail ? h('span', { class: 'muted small match-detail' }, item.detail) : null));
    }));
    matches.hidden = false;
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, DELAY_MS);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {  // search now; never submit the surrounding form from here
      event.preventDefault();
      clearTimeout(timer);
      search();
    }
  });

  const node = h('div', { class: 'field picker' },
    h('label', { for: id }, label), input,
    h('p', { class: 'hint', id: `${id}-hint` }, hint || ''), status, matches);
  return {
    node,
    input,
    clear() { input.value = ''; matches.hidden = true; status.textContent = ''; chosen = null; },
    focus() { input.focus(); },
    refresh: search,
  };
}
