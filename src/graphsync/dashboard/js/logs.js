// Provisioning logs: /auditLogs/provisioning with the filters the API supports (job, cycle,
// application, person, status, action, time), totals ($count), newest or oldest first
// ($orderby), paged by nextLink, and a CSV or JSON download of everything the filters select.
import { countOf, graph, listAll, path } from './api.js';
import { badge, download, empty, errorBox, facts, h, loading, replace } from './dom.js';
import {
  LOG_ACTIONS, LOG_STATUSES, count, dateTime, localInputToIso, logBadge, logFilter, logsCsv, relative,
} from './format.js';
import { picker } from './picker.js';

const PAGE_SIZES = ['25', '50', '100'];
const DOWNLOAD_LIMIT = 50000;
const KEYS = ['jobId', 'cycleId', 'app', 'person', 'personName', 'status', 'action', 'since', 'until', 'top', 'order'];

export function logsView(root, { query }) {
  const state = Object.fromEntries(KEYS.map((key) => [key, query[key] || '']));
  if (!PAGE_SIZES.includes(state.top)) state.top = '50';
  if (state.order !== 'asc') state.order = 'desc';
  const input = (id, label, value, attrs = {}) => {
    const node = h('input', { id, name: id, value, spellcheck: 'false', autocomplete: 'off', ...attrs });
    return [node, h('div', { class: 'field' }, h('label', { for: id }, label), node)];
  };
  const select = (id, label, value, options, none) => {
    const node = h('select', { id, name: id },
      none ? h('option', { value: '' }, none) : null,
      options.map((o) => (Array.isArray(o)
        ? h('option', { value: o[0], selected: o[0] === value }, o[1])
        : h('option', { value: o, selected: o === value }, o))));
    return [node, h('div', { class: 'field' }, h('label', { for: id }, label), node)];
  };
  const [jobId, jobField] = input('f-job', 'Job id', state.jobId, { class: 'mono' });
  const [cycleId, cycleField] = input('f-cycle', 'Cycle id', state.cycleId, { class: 'mono' });
  const [app, appField] = select('f-app', 'Application', state.app,
    state.app ? [[state.app, 'the chosen application']] : [], 'Any');
  const [status, statusField] = select('f-status', 'Status', state.status, LOG_STATUSES, 'Any');
  const [action, actionField] = select('f-action', 'Action', state.action, LOG_ACTIONS, 'Any');
  const [since, sinceField] = input('f-since', 'From', state.since, { type: 'datetime-local', step: 1 });
  const [until, untilField] = input('f-until', 'Before', state.until, { type: 'datetime-local', step: 1 });
  const [top, topField] = select('f-top', 'Per page', state.top, PAGE_SIZES);
  const personChip = h('div', { class: 'person-chip' });
  const person = picker({
    id: 'f-person', label: 'Person', allowRaw: true,
    hint: 'Name, sign-in name or mail of the person whose entries you want (or a source id, such as an HR worker id).',
    onPick(item) {
      if (!item) return;
      state.person = item.id;
      state.personName = item.raw ? '' : item.displayName;
      person.clear();
      showPerson();
      form.requestSubmit();
    },
  });
  function showPerson() {
    if (!state.person) { replace(personChip); return; }
    const clearPerson = h('button', { type: 'button', class: 'button subtle small-button',
      'aria-label': `Stop filtering by ${state.personName || state.person}` }, '✕ Clear');
    clearPerson.addEventListener('click', () => {
      state.person = ''; state.personName = '';
      showPerson();
      form.requestSubmit();
      person.focus();
    });
    replace(personChip, h('p', { class: 'chip-line' }, h('span', { class: 'muted' }, 'Entries of '),
      h('strong', {}, state.personName || state.person),
      state.personName ? h('span', { class: 'muted small mono' }, ` ${state.person}`) : null, ' ', clearPerson));
  }
  showPerson();

  const form = h('form', { class: 'card filters', role: 'search', 'aria-label': 'Filter provisioning logs' },
    h('div', { class: 'filter-grid' }, appField, jobField, cycleField, statusField, actionField, sinceField, untilField, topField),
    h('div', { class: 'person-row' }, person.node, personChip),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'button primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'button subtle', onclick: clear }, 'Clear'),
      h('button', { type: 'button', class: 'button subtle', onclick: () => load() }, 'Refresh')));
  const totals = h('div', { class: 'totals' });
  const exportStatus = h('p', { class: 'muted small', role: 'status' });
  const exports = h('div', { class: 'actions export' },
    h('button', { type: 'button', class: 'button', onclick: () => save('csv') }, h('span', { 'aria-hidden': 'true' }, '↓ '), 'Download CSV'),
    h('button', { type: 'button', class: 'button', onclick: () => save('json') }, h('span', { 'aria-hidden': 'true' }, '↓ '), 'Download JSON'),
    exportStatus);
  const results = h('div');
  const summary = h('p', { class: 'muted', role: 'status' });

  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Provisioning logs'), summary), form, totals, exports, results);

  (async () => {  // the application filter lists the tenant's service principals
    try {
      const sps = await listAll(`${path('servicePrincipals')}?$top=999&$select=id,displayName`, { limit: 5000 });
      sps.sort((a, b) => String(a.displayName).localeCompare(String(b.displayName)));
      replace(app, h('option', { value: '' }, 'Any'),
        sps.map((sp) => h('option', { value: sp.id, selected: sp.id === state.app }, sp.displayName || sp.id)));
    } catch { /* the filter still works for an application chosen by link */ }
  })();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(state, {
      jobId: jobId.value.trim(), cycleId: cycleId.value.trim(), app: app.value, status: status.value, action: action.value,
      since: since.value, until: until.value, top: top.value,
    });
    const params = new URLSearchParams(Object.entries(state).filter(([key, v]) => v && !(key === 'order' && v === 'desc')));
    history.replaceState(null, '', `#/logs?${params}`);  // shareable, without re-rendering the view
    load();
  });

  function clear() {
    jobId.value = ''; cycleId.value = ''; app.value = ''; status.value = ''; action.value = ''; since.value = ''; until.value = '';
    state.person = ''; state.personName = '';
    showPerson();
    form.requestSubmit();
  }

  function currentFilter(overrides = {}) {
    return logFilter({
      jobId: state.jobId, cycleId: state.cycleId, servicePrincipalId: state.app, sourceId: state.person,
      status: state.status, action: state.action, since: localInputToIso(state.since), until: localInputToIso(state.until),
      ...overrides,
    });
  }

  function queryOf(topValue, overrides) {
    const params = new URLSearchParams({ $top: topValue, $count: 'true', $orderby: `activityDateTime ${state.order}` });
    const filter = currentFilter(overrides);
    if (filter) params.set('$filter', filter);
    return `${path('logs')}?${params}`;
  }

  function sortBy(order) {
    state.order = order;
    form.requestSubmit();
  }

  async function loadTotals(mine) {
    if (state.status) { replace(totals); return; }
    try {
      const numbers = await Promise.all(LOG_STATUSES.map((value) => countOf(
        `${path('logs')}?${new URLSearchParams({ $filter: currentFilter({ status: value }) })}`)));
      if (mine !== generation) return;
      replace(totals, h('ul', { class: 'tally', 'aria-label': 'Entries by status' }, LOG_STATUSES.map((value, i) => {
        const b = logBadge(value);
        const tone = numbers[i] ? b.tone : 'idle';
        return h('li', {}, h('button', { type: 'button', class: `tile tone-${tone}`, onclick: () => { status.value = value; form.requestSubmit(); } },
          h('span', { class: 'tile-value' }, count(numbers[i])), ' ',
          h('span', { class: 'tile-label' }, h('span', { 'aria-hidden': 'true' }, `${b.icon} `), b.label)));
      })));
    } catch (error) {
      if (mine === generation && error.status !== 401) replace(totals);
    }
  }

  async function save(kind) {
    exportStatus.textContent = 'Collecting the entries…';
    try {
      const entries = await listAll(queryOf('999'), { limit: DOWNLOAD_LIMIT,
        onPage: (n) => { exportStatus.textContent = `Collecting the entries… ${count(n)}`; } });
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      if (kind === 'csv') download(`provisioning-logs-${stamp}.csv`, 'text/csv;charset=utf-8', `\ufeff${logsCsv(entries)}`);
      else download(`provisioning-logs-${stamp}.json`, 'application/json', `${JSON.stringify(entries, null, 2)}\n`);
      exportStatus.textContent = `Downloaded ${count(entries.length)} entr${entries.length === 1 ? 'y' : 'ies'} as ${kind.toUpperCase()}${entries.length >= DOWNLOAD_LIMIT ? ` (the first ${count(DOWNLOAD_LIMIT)}; narrow the filters for the rest)` : ''}.`;
    } catch (error) {
      if (error.status !== 401) exportStatus.textContent = `The download failed: ${error.message}`;
    }
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    replace(results, loading('Loading log entries…'));
    summary.textContent = '';
    loadTotals(mine);
    const filtered = Boolean(currentFilter());
    try {
      const page = await graph(queryOf(state.top));
      if (mine !== generation) return;
      const entries = page?.value || [];
      const total = page?.['@odata.count'];
      const order = state.order === 'asc' ? 'oldest first' : 'newest first';
      if (!entries.length) {
        summary.textContent = 'No entries';
        replace(results, empty('No log entries match', filtered
          ? 'Try fewer filters or a wider time range.'
          : 'Nothing has been provisioned yet (or the entries are older than the retention period).'));
        return;
      }
      const table = logTable(entries, { order: state.order, onSort: sortBy });
      const more = h('div', { class: 'actions' });
      replace(results, table, more);
      let shown = entries.length;
      const say = () => {
        summary.textContent = `${count(shown)} of ${count(total ?? shown)} entr${(total ?? shown) === 1 ? 'y' : 'ies'} shown, ${order}`;
      };
      say();
      let next = page['@odata.nextLink'];
      const addMore = () => {
        if (!next) { replace(more); return; }
        const button = h('button', { type: 'button', class: 'button' }, 'Load more');
        button.addEventListener('click', async () => {
          button.disabled = true;
          try {
            const nextPage = await graph(next);
            if (mine !== generation) return;
            const rows = nextPage?.value || [];
            appendRows(table, rows);
            shown += rows.length;
            say();
            next = nextPage['@odata.nextLink'];
            addMore();
          } catch (error) {
            if (error.status !== 401) replace(more, errorBox(error, 'load more entries'));
          }
        });
        replace(more, button);
      };
      addMore();
    } catch (error) {
      if (mine === generation && error.status !== 401) replace(results, errorBox(error, 'load the log entries'));
    }
  }

  load();
  return {};
}

/** A table of log entries; each row expands (button, aria-expanded) to steps and changes. */
export function logTable(entries, { compact = false, order = 'desc', onSort = null } = {}) {
  const newest = order !== 'asc';
  const when = onSort
    ? h('th', { scope: 'col', 'aria-sort': newest ? 'descending' : 'ascending' },
      h('button', { type: 'button', class: 'sort', onclick: () => onSort(newest ? 'asc' : 'desc'),
        title: newest ? 'Newest first: click for oldest first' : 'Oldest first: click for newest first' },
      'When', h('span', { 'aria-hidden': 'true' }, newest ? ' ▼' : ' ▲')))
    : h('th', { scope: 'col' }, 'When');
  const table = h('table', { class: 'data logs' },
    h('caption', { class: 'sr-only' }, `Provisioning log entries, ${newest ? 'newest' : 'oldest'} first`),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Details')),
      when,
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Action'),
      h('th', { scope: 'col' }, 'Source'),
      h('th', { scope: 'col' }, 'Target'),
      compact ? null : h('th', { scope: 'col' }, 'Application'))),
    h('tbody', {}));
  table.dataset.compact = compact ? 'true' : 'false';
  appendRows(table, entries);
  return h('div', { class: 'table-wrap' }, table);
}

function appendRows(tableOrWrap, entries) {
  const table = tableOrWrap.tagName === 'TABLE' ? tableOrWrap : tableOrWrap.querySelector('table');
  const compact = table.dataset.compact === 'true';
  const body = table.tBodies[0];
  const columns = compact ? 6 : 7;
  for (const entry of entries) {
    const info = entry.provisioningStatusInfo || {};
    const b = logBadge(info.status);
    const detail = h('tr', { class: 'log-detail', hidden: true }, h('td', { colspan: columns }));
    const toggle = h('button', { type: 'button', class: 'expander', 'aria-expanded': 'false',
      'aria-label': `Details of ${entry.provisioningAction || 'entry'} ${entry.sourceIdentity?.displayName || ''}` }, '▸');
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? '▾' : '▸';
      if (open && !detail.firstChild.firstChild) replace(detail.firstChild, entryDetail(entry));
      detail.hidden = !open;
    });
    body.append(
      h('tr', { class: `log-row tone-row-${b.tone}`, 'data-entry': entry.id },
        h('td', {}, toggle),
        h('td', {}, h('time', { datetime: entry.activityDateTime, title: dateTime(entry.activityDateTime) },
          relative(entry.activityDateTime))),
        h('td', {}, badge(b)),
        h('td', {}, entry.provisioningAction || '—'),
        h('td', {}, identity(entry.sourceIdentity)),
        h('td', {}, identity(entry.targetIdentity)),
        compact ? null : h('td', {}, entry.servicePrincipal?.displayName || '—')),
      detail);
  }
}

function identity(value) {
  if (!value || (!value.displayName && !value.id)) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'identity' }, value.displayName || value.id,
    value.identityType ? h('span', { class: 'muted small' }, ` ${shortType(value.identityType)}`) : null);
}

function shortType(type) {
  return String(type).split(':').pop();
}

function entryDetail(entry) {
  const info = entry.provisioningStatusInfo || {};
  const error = info.errorInformation;
  return h('div', { class: 'entry-detail' },
    error ? h('div', { class: 'inline-error' },
      h('p', {}, h('span', { 'aria-hidden': 'true' }, '✖ '), h('strong', {}, error.errorCode || 'Error'),
        error.errorCategory ? ` (${error.errorCategory})` : ''),
      error.reason ? h('p', {}, error.reason) : null,
      error.additionalDetails ? h('p', { class: 'small' }, error.additionalDetails) : null,
      error.recommendedAction ? h('p', { class: 'small' }, `Recommended: ${error.recommendedAction}`) : null) : null,
    h('h3', {}, 'Steps'),
    h('ol', { class: 'steps' }, (entry.provisioningSteps || []).map((step) => {
      const b = logBadge(step.status);
      const details = Object.entries(step.details || {});
      return h('li', { class: `step tone-${b.tone}` },
        h('p', {}, badge(b), ' ', h('strong', {}, step.provisioningStepType || ''), ' ',
          h('span', { class: 'muted small' }, step.name || '')),
        h('p', {}, step.description || ''),
        details.length ? facts(details, 'facts compact') : null);
    })),
    (entry.modifiedProperties || []).length ? modifiedTable(entry.modifiedProperties) : h('p', { class: 'muted' }, 'No properties modified.'),
    facts([
      ['Job', h('a', { href: `#/logs?${new URLSearchParams({ jobId: entry.jobId || '' })}`, class: 'mono' }, entry.jobId || '—')],
      ['Cycle', h('a', { href: `#/logs?${new URLSearchParams({ jobId: entry.jobId || '', cycleId: entry.cycleId || '' })}`, class: 'mono' }, entry.cycleId || '—')],
      ['Change id', h('span', { class: 'mono' }, entry.changeId || '—')],
      ['Source', `${entry.sourceSystem?.displayName || '—'} · ${entry.sourceIdentity?.id || '—'}`],
      ['Target', `${entry.targetSystem?.displayName || '—'} · ${entry.targetIdentity?.id || '—'}`],
      ['Time', dateTime(entry.activityDateTime)],
    ], 'facts compact'));
}

export function modifiedTable(properties) {
  return h('table', { class: 'mini changes' },
    h('caption', {}, 'Modified properties'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Property'), h('th', { scope: 'col' }, 'Old'),
      h('th', { scope: 'col' }, h('span', { 'aria-hidden': 'true' }, '→ '), 'New'))),
    h('tbody', {}, properties.map((p) => h('tr', {},
      h('td', { class: 'mono' }, p.displayName),
      h('td', { class: 'old' }, p.oldValue ?? h('span', { class: 'muted' }, '(none)')),
      h('td', { class: 'new' }, p.newValue ?? h('span', { class: 'muted' }, '(none)'))))));
}
