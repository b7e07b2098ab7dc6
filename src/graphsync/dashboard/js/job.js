// One job: its state in detail (running cycle, failures to date), the actions, provision on
// demand, its configuration (connection, schedule, settings), its mappings and its recent logs.
import { countOf, graph, path } from './api.js';
import { done, empty, errorBox, h, loading, replace, toast } from './dom.js';
import { RESET_SCOPES, count, isInbound, logFilter, restartBody } from './format.js';
import { configView } from './config.js';
import {
  entryCounts, lastExecution, progress, quarantine, runningBadge, scheduleFacts, stateBadges,
} from './jobstatus.js';
import { logTable } from './logs.js';
import { mappingsView } from './mappings.js';
import { onDemandView } from './ondemand.js';

export function jobView(root, { params }) {
  const ids = { sp: params.sp, job: params.job };
  let job = null;
  let destroyed = false;
  let config = null;
  let mappings = null;

  const title = h('h1', {}, 'Job');
  const subtitle = h('p', { class: 'muted small mono' }, ids.job);
  const badges = h('div');
  const live = h('div', { class: 'live' });
  const statusArea = h('div', { class: 'status-area' }, loading('Loading the job…'));
  const toDate = h('div', { class: 'to-date' });
  const inboundNote = h('div');
  const actionStatus = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const onDemand = h('div');
  const configArea = h('div', {}, loading('Loading the configuration…'));
  const mappingArea = h('div', {}, loading('Loading the schema…'));
  const recent = h('div', {}, loading('Loading recent log entries…'));
  const logsHref = `#/logs?${new URLSearchParams({ jobId: ids.job })}`;

  const buttons = {
    start: h('button', { type: 'button', class: 'button primary', onclick: () => act('start', 'Start', {}) },
      h('span', { 'aria-hidden': 'true' }, '▶ '), 'Start'),
    pause: h('button', { type: 'button', class: 'button', onclick: () => act('pause', 'Pause', {}) },
      h('span', { 'aria-hidden': 'true' }, '❚❚ '), 'Pause'),
  };
  const scopeBoxes = RESET_SCOPES.map(([flag]) => h('input', { type: 'checkbox', value: flag, id: `scope-${flag}`,
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

  const sections = [['h-status', 'Status'], ['h-actions', 'Actions'], ['h-config', 'Configuration'],
    ['h-map', 'Mappings'], ['h-logs', 'Logs']];
  replace(root,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Overview'), ' › ', h('span', {}, 'Job')),
    h('div', { class: 'page-head' }, h('div', {}, title, subtitle), badges),
    h('nav', { class: 'section-nav', 'aria-label': 'On this page' },
      h('ul', {}, sections.map(([id, label]) => h('li', {}, h('a', { href: `#${id}` }, label))))),
    h('div', { class: 'job-layout' },
      h('section', { class: 'card', 'aria-labelledby': 'h-status' },
        h('h2', { id: 'h-status', tabindex: '-1' }, 'Status'), live, toDate, statusArea),
      h('section', { class: 'card', 'aria-labelledby': 'h-actions' },
        h('h2', { id: 'h-actions', tabindex: '-1' }, 'Actions'),
        h('div', { class: 'actions' }, buttons.start, buttons.pause),
        h('details', { class: 'restart' }, h('summary', {}, 'Restart…'), restartForm),
        actionStatus,
        onDemand,
        inboundNote)),
    h('section', { class: 'card', 'aria-labelledby': 'h-config' },
      h('h2', { id: 'h-config', tabindex: '-1' }, 'Configuration'), configArea),
    h('section', { class: 'card', 'aria-labelledby': 'h-map' },
      h('h2', { id: 'h-map', tabindex: '-1' }, 'Attribute mappings and scoping filters'), mappingArea),
    h('section', { class: 'card', 'aria-labelledby': 'h-logs' },
      h('div', { class: 'section-head' }, h('h2', { id: 'h-logs', tabindex: '-1' }, 'Recent provisioning log entries'),
        h('a', { href: logsHref }, 'All log entries of this job →')),
      recent));

  async function act(action, label, body) {
    for (const button of Object.values(buttons)) button.disabled = true;
    replace(actionStatus, h('p', { role: 'status' }, `${label}…`));
    try {
      await graph(path(action, ids), { method: 'POST', body });
      replace(actionStatus, done(`${label}: done.`));
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
    const now = new Date();
    replace(badges, stateBadges(job));
    replace(live, runningBadge(job, now), progress(job, now));
    replace(statusArea,
      quarantine(job),
      h('h3', {}, 'Last cycle'), lastExecution(job),
      h('h3', {}, 'Schedule'), scheduleFacts(job),
      h('h3', {}, 'Objects by type'), entryCounts(job));
  }

  /** Log entries of the job to date, by status: failures stay visible after later cycles succeed. */
  async function loadToDate() {
    const inbound = isInbound(job);
    const kinds = [['', inbound ? 'Records processed' : 'Log entries'], ['success', inbound ? 'Applied' : 'Succeeded'],
      ['failure', 'Failed'], ['skipped', 'Skipped']];
    try {
      const numbers = await Promise.all(kinds.map(([status]) => countOf(
        `${path('logs')}?${new URLSearchParams({ $filter: logFilter({ jobId: ids.job, status }) })}`)));
      if (destroyed) return;
      replace(toDate, h('h3', {}, inbound ? 'All records to date' : 'To date'),
        h('ul', { class: 'counters', 'aria-label': 'Log entries of this job to date, by status' },
          kinds.map(([status, label], i) => {
            const href = `#/logs?${new URLSearchParams(Object.entries({ jobId: ids.job, status }).filter(([, v]) => v))}`;
            const tone = status === 'failure' && numbers[i] ? ' counter-bad' : '';
            return h('li', { class: `counter${tone}` },
              h('a', { href, class: 'counter-link' }, h('span', { class: 'counter-value' }, count(numbers[i])),
                h('span', { class: 'counter-label' }, label)));
          })),
        h('p', { class: 'muted small' }, 'Counted over every log entry kept, not only the last cycle\'s.'));
    } catch (error) {
      if (error.status === 401 || destroyed) return;
      replace(toDate, h('p', { class: 'muted small' }, error.status === 403
        ? 'Counts to date need a sign-in that may read the provisioning logs (AuditLog.Read.All).'
        : `Counts to date are unknown: ${error.message}`));
    }
  }

  async function refresh() {
    try {
      job = await graph(path('job', ids));
      if (destroyed) return;
      renderStatus();
      config?.update(job);
      loadToDate();
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

  function renderInboundNote() {
    replace(inboundNote, h('div', { class: 'note' },
      h('h3', {}, 'API-driven inbound job'),
      h('p', {}, 'HR records are posted to …/jobs/{id}/bulkUpload. While the job works through its backlog, the status shows the records done so far; "All records to date" counts every record the logs hold, whatever batch it came in. The API does not report how many records are still staged.'),
      h('p', {}, h('a', { href: logsHref }, 'Log entries of this job →'))));
  }

  (async () => {
    loadHeader();
    await refresh();
    if (destroyed || !job) {
      if (!job) { replace(configArea); replace(mappingArea); replace(recent); }
      return;
    }
    config = configView(configArea, ids, job);
    mappings = mappingsView(mappingArea, ids, job);
    if (isInbound(job)) renderInboundNote();
    else onDemandView(onDemand, ids, () => { refresh(); loadRecent(); });
    loadRecent();
  })();

  return { refresh, destroy() { destroyed = true; document.title = 'graphsync dashboard'; } };
}
