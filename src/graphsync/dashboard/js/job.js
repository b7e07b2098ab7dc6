// One job: its state in detail, the actions, provision on demand, mappings, secrets, recent logs.
import { graph, path } from './api.js';
import { badge, empty, errorBox, facts, h, loading, replace, toast } from './dom.js';
import {
  RESET_SCOPES, expressionText, isInbound, logBadge, logFilter, onDemandResult, restartBody,
} from './format.js';
import { entryCounts, lastExecution, progress, quarantine, scheduleFacts, stateBadges } from './jobstatus.js';
import { logTable, modifiedTable } from './logs.js';

export function jobView(root, { params }) {
  const ids = { sp: params.sp, job: params.job };
  let job = null;
  let schema = null;
  let destroyed = false;

  const title = h('h1', {}, 'Job');
  const subtitle = h('p', { class: 'muted small mono' }, ids.job);
  const badges = h('div');
  const statusArea = h('div', { class: 'status-area' }, loading('Loading the job…'));
  const inboundNote = h('div');
  const actionStatus = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const onDemand = h('div');
  const mappings = h('div', {}, loading('Loading the schema…'));
  const secrets = h('div', {}, loading('Loading secret keys…'));
  const recent = h('div', {}, loading('Loading recent log entries…'));
  const logsHref = `#/logs?${new URLSearchParams({ jobId: ids.job })}`;

  const buttons = {
    start: h('button', { type: 'button', class: 'button primary', onclick: () => act('start', 'Start', {}) },
      h('span', { 'aria-hidden': 'true' }, '▶ '), 'Start'),
    pause: h('button', { type: 'button', class: 'button', onclick: () => act('pause', 'Pause', {}) },
      h('span', { 'aria-hidden': 'true' }, '❚❚ '), 'Pause'),
  };
  const scopeBoxes = RESET_SCOPES.map(([flag, help]) => h('input', { type: 'checkbox', value: flag, id: `scope-${flag}`,
    'aria-describedby': `scope-${flag}-help` }));
  const restartForm = h('form', { class: 'restart-form' },
    h('fieldset', {},
      h('legend', {}, 'Reset scope'),
      h('p', { class: 'muted small' }, 'None ticked: the API\'s default (QuarantineState, Watermark, Escrows), as the portal\'s "Restart provisioning".'),
      RESET_SCOPES.map(([flag, help], i) => h('div', { class: 'check' }, scopeBoxes[i],
        h('label', { for: `scope-${flag}` }, h('span', { class: 'mono' }, flag)),
        h('span', { class: 'muted small', id: `scope-${flag}-help` }, ` — ${help}`)))),
    h('button', { type: 'submit', class: 'button warn' }, h('span', { 'aria-hidden': 'true' }, '↻ '), 'Restart'));
  restartForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const flags = scopeBoxes.filter((box) => box.checked).map((box) => box.value);
    const drastic = flags.filter((flag) => ['Full', 'ConnectorDataStore', 'ForceDeletes'].includes(flag));
    // eslint-disable-next-line no-alert
    if (drastic.length && !window.confirm(`Restart with ${drastic.join(', ')}? This cannot be undone.`)) return;
    act('restart', 'Restart', restartBody(flags));
  });

  replace(root,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Overview'), ' › ', h('span', {}, 'Job')),
    h('div', { class: 'page-head' }, h('div', {}, title, subtitle), badges),
    h('div', { class: 'job-layout' },
      h('section', { class: 'card', 'aria-labelledby': 'h-status' }, h('h2', { id: 'h-status' }, 'Status'), statusArea),
      h('section', { class: 'card', 'aria-labelledby': 'h-actions' },
        h('h2', { id: 'h-actions' }, 'Actions'),
        h('div', { class: 'actions' }, buttons.start, buttons.pause),
        h('details', { class: 'restart' }, h('summary', {}, 'Restart…'), restartForm),
        actionStatus,
        onDemand,
        inboundNote)),
    h('section', { class: 'card', 'aria-labelledby': 'h-logs' },
      h('div', { class: 'section-head' }, h('h2', { id: 'h-logs' }, 'Recent provisioning log entries'),
        h('a', { href: logsHref }, 'All log entries of this job →')),
      recent),
    h('section', { class: 'card', 'aria-labelledby': 'h-map' }, h('h2', { id: 'h-map' }, 'Attribute mappings'), mappings),
    h('section', { class: 'card', 'aria-labelledby': 'h-secrets' }, h('h2', { id: 'h-secrets' }, 'Secrets'),
      h('p', { class: 'muted small' }, 'Keys only: the API never returns sensitive values, and the dashboard does not show values at all.'),
      secrets));

  async function act(action, label, body) {
    for (const button of Object.values(buttons)) button.disabled = true;
    replace(actionStatus, h('p', { role: 'status' }, `${label}…`));
    try {
      await graph(path(action, ids), { method: 'POST', body });
      replace(actionStatus, h('p', { class: 'ok-text' }, h('span', { 'aria-hidden': 'true' }, '✔ '), `${label}: done.`));
      toast(`${label}: done`);
      await refresh();
      loadRecent();
    } catch (error) {
      if (error.status !== 401) replace(actionStatus, errorBox(error, label.toLowerCase()));
    } finally {
      for (const button of Object.values(buttons)) button.disabled = false;
    }
  }

  function renderStatus() {
    replace(badges, stateBadges(job));
    replace(statusArea,
      progress(job),
      quarantine(job),
      h('h3', {}, 'Last cycle'), lastExecution(job),
      h('h3', {}, 'Schedule'), scheduleFacts(job),
      h('h3', {}, 'Objects by type'), entryCounts(job));
  }

  async function refresh() {
    try {
      job = await graph(path('job', ids));
      if (destroyed) return;
      renderStatus();
    } catch (error) {
      if (destroyed || error.status === 401) return;
      replace(statusArea, errorBox(error, 'load the job'));
    }
  }

  async function loadHeader() {
    try {
      const sp = await graph(`${path('servicePrincipal', ids)}?$select=id,displayName,appId`);
      title.textContent = sp.displayName || sp.id;
      document.title = `${sp.displayName || 'Job'} · graphsync`;
    } catch (error) {
      if (error.status !== 401) title.textContent = 'Job';
    }
  }

  async function loadSchema() {
    try {
      schema = await graph(path('schema', ids));
      replace(mappings, renderMappings(schema));
    } catch (error) {
      if (error.status !== 401) replace(mappings, errorBox(error, 'load the schema'));
    }
  }

  async function loadSecrets() {
    try {
      const body = await graph(path('secrets', ids));
      const keys = (body?.value || []).map((pair) => pair.key);
      replace(secrets, keys.length
        ? h('ul', { class: 'chips' }, keys.map((key) => h('li', { class: 'chip mono' }, key)))
        : empty('No secrets', 'Set BaseAddress and SecretToken with PUT …/synchronization/secrets.'));
    } catch (error) {
      if (error.status !== 401) replace(secrets, errorBox(error, 'load the secrets'));
    }
  }

  async function loadRecent() {
    try {
      const filter = logFilter({ jobId: ids.job });
      const page = await graph(`${path('logs')}?${new URLSearchParams({ $filter: filter, $top: '10' })}`);
      const entries = page?.value || [];
      replace(recent, entries.length ? logTable(entries, { compact: true })
        : empty('No log entries yet', isInbound(job)
          ? 'Records posted to bulkUpload appear here once the job has processed them (a paused or never-started job keeps them staged).'
          : 'Entries appear once a cycle has provisioned something.'));
    } catch (error) {
      if (error.status !== 401) replace(recent, errorBox(error, 'load the log entries'));
    }
  }

  function renderOnDemand() {
    if (isInbound(job)) {
      replace(inboundNote, h('div', { class: 'note' },
        h('h3', {}, 'API-driven inbound job'),
        h('p', {}, 'HR records are posted to …/jobs/{id}/bulkUpload. While the job works through its backlog, the status shows the records done out of those received; the last cycle counts records received, applied and failed. The API does not report how many records are still staged, so look at the log entries for each record.'),
        h('p', {}, h('a', { href: logsHref }, 'Log entries of this job →'))));
      return;
    }
    const rules = schema?.synchronizationRules || [];
    const rule = h('select', { id: 'pod-rule' }, rules.map((r) => h('option', { value: r.id }, r.name || r.id)));
    const type = h('select', { id: 'pod-type' }, h('option', { value: 'User' }, 'User'), h('option', { value: 'Group' }, 'Group'));
    const objectId = h('input', { id: 'pod-id', required: true, spellcheck: 'false', autocomplete: 'off',
      pattern: '\\S+', placeholder: 'object id in the directory' });
    const submit = h('button', { type: 'submit', class: 'button' }, 'Provision now');
    const result = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'form pod' },
      h('h3', {}, 'Provision on demand'),
      h('div', { class: 'inline-fields' },
        h('div', { class: 'field' }, h('label', { for: 'pod-type' }, 'Object type'), type),
        h('div', { class: 'field grow' }, h('label', { for: 'pod-id' }, 'Object id'), objectId),
        rules.length > 1 ? h('div', { class: 'field' }, h('label', { for: 'pod-rule' }, 'Rule'), rule) : null),
      h('div', { class: 'actions' }, submit),
      result);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!rules.length) {
        replace(result, errorBox({ message: 'The job\'s schema has no synchronization rule to run.' }, 'provision'));
        return;
      }
      submit.disabled = true;
      replace(result, loading('Provisioning…'));
      const body = { parameters: [{ ruleId: rule.value, subjects: [{ objectId: objectId.value.trim(), objectTypeName: type.value }] }] };
      try {
        const answer = onDemandResult(await graph(path('provisionOnDemand', ids), { method: 'POST', body }));
        replace(result, renderOnDemandResult(answer));
        refresh();
        loadRecent();
      } catch (error) {
        if (error.status !== 401) replace(result, errorBox(error, 'provision on demand'));
      } finally {
        submit.disabled = false;
      }
    });
    replace(onDemand, form);
  }

  (async () => {
    loadHeader();
    loadSecrets();
    await Promise.all([refresh(), loadSchema()]);
    if (destroyed || !job) return;
    renderOnDemand();
    loadRecent();
  })();

  return { refresh, destroy() { destroyed = true; document.title = 'graphsync dashboard'; } };
}

function renderOnDemandResult(answer) {
  return h('div', { class: 'pod-result' },
    h('p', {}, badge(logBadge(answer.result)), answer.action ? ` ${answer.action}` : ''),
    answer.errorCode || answer.errorMessage
      ? h('p', { class: 'inline-error' }, answer.errorCode ? h('strong', {}, answer.errorCode) : null,
        answer.errorCode && answer.errorMessage ? ': ' : '', answer.errorMessage || '')
      : null,
    h('ol', { class: 'steps' }, answer.steps.map((step) => h('li', { class: `step tone-${logBadge(step.status).tone}` },
      h('p', {}, badge(logBadge(step.status)), ' ', h('strong', {}, step.type || ''), ' ', h('span', { class: 'muted small' }, step.name || '')),
      h('p', {}, step.description || ''),
      Object.keys(step.details || {}).length ? facts(Object.entries(step.details), 'facts compact') : null))),
    answer.modifiedProperties.length ? modifiedTable(answer.modifiedProperties) : null);
}

function renderMappings(schema) {
  const rules = schema?.synchronizationRules || [];
  if (!rules.length) return empty('No synchronization rules', 'The job\'s schema maps nothing.');
  return rules.map((rule) => h('div', { class: 'rule' },
    rules.length > 1 ? h('h3', {}, rule.name || rule.id) : null,
    (rule.objectMappings || []).map((mapping) => {
      const matching = (mapping.attributeMappings || []).filter((m) => m.matchingPriority > 0);
      return h('details', { class: 'mapping', open: mapping.enabled !== false },
        h('summary', {},
          h('span', { class: 'mapping-name' }, mapping.name || `${mapping.sourceObjectName} → ${mapping.targetObjectName}`),
          ' ', badge(mapping.enabled === false ? { tone: 'idle', icon: '■', label: 'Disabled' } : { tone: 'ok', icon: '✔', label: 'Enabled' })),
        facts([
          ['Source → target', `${mapping.sourceObjectName} → ${mapping.targetObjectName}`],
          ['Actions', mapping.flowTypes || '—'],
          ['Matching', matching.length ? matching.map((m) => m.targetAttributeName).join(', ') : '—'],
          ['Scoping filter', mapping.scope?.groups?.length ? `${mapping.scope.groups.length} clause group(s)` : 'none'],
        ], 'facts compact'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
          h('caption', { class: 'sr-only' }, `Attribute mappings of ${mapping.name || ''}`),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Source (expression)'), h('th', { scope: 'col' }, 'Target attribute'),
            h('th', { scope: 'col' }, 'Flow'), h('th', { scope: 'col' }, 'Default'))),
          h('tbody', {}, (mapping.attributeMappings || []).map((m) => h('tr', {},
            h('td', {}, h('code', {}, expressionText(m.source)), h('span', { class: 'muted small' }, ` ${m.source?.type || ''}`)),
            h('td', { class: 'mono' }, m.targetAttributeName,
              m.matchingPriority > 0 ? h('span', { class: 'tag' }, `match #${m.matchingPriority}`) : null),
            h('td', {}, m.flowType || '', m.flowBehavior === 'FlowAlways' ? h('span', { class: 'muted small' }, ' (always)') : null),
            h('td', {}, m.defaultValue ? h('code', {}, m.defaultValue) : h('span', { class: 'muted' }, '—'))))))));
    })));
}
