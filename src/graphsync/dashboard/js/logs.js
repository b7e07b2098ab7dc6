// Provisioning logs: /auditLogs/provisioning with the filters the API supports, paged by nextLink.
import { graph, path } from './api.js';
import { badge, empty, errorBox, facts, h, loading, replace } from './dom.js';
import { LOG_ACTIONS, LOG_STATUSES, dateTime, localInputToIso, logBadge, logFilter, relative } from './format.js';

const PAGE_SIZES = ['25', '50', '100'];

export function logsView(root, { query }) {
  const state = {
    jobId: query.jobId || '', cycleId: query.cycleId || '', status: query.status || '', action: query.action || '',
    since: query.since || '', until: query.until || '', top: PAGE_SIZES.includes(query.top) ? query.top : '50',
  };
  const input = (id, label, value, attrs = {}) => {
    const node = h('input', { id, name: id, value, spellcheck: 'false', autocomplete: 'off', ...attrs });
    return [node, h('div', { class: 'field' }, h('label', { for: id }, label), node)];
  };
  const select = (id, label, value, options, none) => {
    const node = h('select', { id, name: id },
      none ? h('option', { value: '' }, none) : null,
      options.map((o) => h('option', { value: o, selected: o === value }, o)));
    return [node, h('div', { class: 'field' }, h('label', { for: id }, label), node)];
  };
  const [jobId, jobField] = input('f-job', 'Job id', state.jobId, { class: 'mono' });
  const [cycleId, cycleField] = input('f-cycle', 'Cycle id', state.cycleId, { class: 'mono' });
  const [status, statusField] = select('f-status', 'Status', state.status, LOG_STATUSES, 'Any');
  const [action, actionField] = select('f-action', 'Action', state.action, LOG_ACTIONS, 'Any');
  const [since, sinceField] = input('f-since', 'From', state.since, { type: 'datetime-local', step: 1 });
  const [until, untilField] = input('f-until', 'Before', state.until, { type: 'datetime-local', step: 1 });
  const [top, topField] = select('f-top', 'Per page', state.top, PAGE_SIZES);
  const form = h('form', { class: 'card filters', role: 'search', 'aria-label': 'Filter provisioning logs' },
    h('div', { class: 'filter-grid' }, jobField, cycleField, statusField, actionField, sinceField, untilField, topField),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'button primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'button subtle', onclick: clear }, 'Clear'),
      h('button', { type: 'button', class: 'button subtle', onclick: () => load() }, 'Refresh')));
  const results = h('div');
  const summary = h('p', { class: 'muted', role: 'status' });

  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Provisioning logs'), summary), form, results);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(state, {
      jobId: jobId.value.trim(), cycleId: cycleId.value.trim(), status: status.value, action: action.value, since: since.value,
      until: until.value, top: top.value,
    });
    const params = new URLSearchParams(Object.entries(state).filter(([, v]) => v));
    history.replaceState(null, '', `#/logs?${params}`);  // shareable, without re-rendering the view
    load();
  });

  function clear() {
    jobId.value = ''; cycleId.value = ''; status.value = ''; action.value = ''; since.value = ''; until.value = '';
    form.requestSubmit();
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    replace(results, loading('Loading log entries…'));
    summary.textContent = '';
    const filter = logFilter({
      jobId: state.jobId, cycleId: state.cycleId, status: state.status, action: state.action,
      since: localInputToIso(state.since), until: localInputToIso(state.until),
    });
    const params = new URLSearchParams({ $top: state.top });
    if (filter) params.set('$filter', filter);
    try {
      const page = await graph(`${path('logs')}?${params}`);
      if (mine !== generation) return;
      const entries = page?.value || [];
      if (!entries.length) {
        replace(results, empty('No log entries match', filter
          ? 'Try fewer filters or a wider time range.'
          : 'Nothing has been provisioned yet (or the entries are older than the retention period).'));
        return;
      }
      const table = logTable(entries);
      const more = h('div', { class: 'actions' });
      replace(results, table, more);
      let shown = entries.length;
      summary.textContent = `${shown} entr${shown === 1 ? 'y' : 'ies'} shown, newest first`;
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
            summary.textContent = `${shown} entries shown, newest first`;
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
export function logTable(entries, { compact = false } = {}) {
  const table = h('table', { class: 'data logs' },
    h('caption', { class: 'sr-only' }, 'Provisioning log entries, newest first'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Details')),
      h('th', { scope: 'col' }, 'When'),
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
      h('tr', { class: `log-row tone-row-${b.tone}` },
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
