// How a job's state reads, shared by the overview cards and the job page.
import { badge, facts, h } from './dom.js';
import {
  count, cycleState, dateTime, duration, executionBadge, executionCounters, isInbound, isNever, progressOf, relative,
  scheduleBadge, statusBadge,
} from './format.js';

/** Schedule state and status code badges: one when they say the same (Active, Paused), each
 *  with a visible label when they differ (Active but in quarantine, say). */
export function stateBadges(job) {
  const scheduled = scheduleBadge((job.schedule || {}).state);
  const status = statusBadge((job.status || {}).code);
  if (scheduled.label === status.label) {
    return h('div', { class: 'badges', title: `Schedule and status: ${status.label}` },
      h('span', { class: 'sr-only' }, 'Schedule and status: '), badge(status));
  }
  return h('div', { class: 'badges' },
    h('span', { class: 'badge-pair' }, h('span', { class: 'badge-label' }, 'Schedule'), badge(scheduled)),
    h('span', { class: 'badge-pair' }, h('span', { class: 'badge-label' }, 'Status'), badge(status)));
}

function time(value) {
  if (isNever(value)) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: value, title: dateTime(value) }, relative(value));
}

/** Last execution: when, outcome, counters, error. */
export function lastExecution(job) {
  const execution = job.status?.lastExecution;
  if (!execution) return h('p', { class: 'muted' }, 'No cycle has run yet.');
  const error = execution.error;
  return h('div', { class: 'execution' },
    h('p', { class: 'execution-head' }, badge(executionBadge(execution.state)), ' ',
      h('span', { class: 'muted' }, 'ended '), time(execution.timeEnded || execution.timeBegan)),
    h('ul', { class: 'counters', 'aria-label': 'Counters of the last cycle' },
      executionCounters(execution, isInbound(job)).map(([label, value]) => h('li', {},
        h('span', { class: 'counter-value' }, count(value)), h('span', { class: 'counter-label' }, label)))),
    error ? h('p', { class: 'inline-error' }, h('span', { 'aria-hidden': 'true' }, '✖ '),
      h('strong', {}, error.code || 'Error'), ': ', error.message || '') : null);
}

/** "Running" (with how fresh its progress is), "stalled" or "stopped" while a cycle is under way;
 *  null when no cycle runs. */
export function runningBadge(job, now = new Date()) {
  const state = cycleState(job, now);
  if (state === 'idle') return null;
  const at = (job.status?.progress || []).map((item) => item.progressObservationDateTime).filter((v) => !isNever(v)).sort().pop();
  const fresh = at ? relative(at, now) : '';
  const b = {
    running: { tone: 'busy', icon: '↻', label: isInbound(job) ? 'Processing records' : 'Cycle running' },
    stalled: { tone: 'warn', icon: '▲', label: `Cycle running, no progress since ${fresh}` },
    stopped: { tone: 'idle', icon: '■', label: 'Cycle stopped part way (the job is not active)' },
  }[state];
  return h('p', { class: `running running-${state}`, role: state === 'running' ? null : 'note' }, badge(b),
    state === 'running' && at ? h('span', { class: 'muted small' }, ` · progress written ${fresh}`) : null);
}

/** Progress bars of a running cycle (null when no cycle runs: the last cycle's counters say the rest). */
export function progress(job, now = new Date()) {
  if (cycleState(job, now) === 'idle') return null;
  const items = progressOf(job.status);
  if (!items.length) return null;
  return h('div', { class: 'progress-list' }, items.map((item) => {
    const label = item.total ? `${count(item.done)} of ${count(item.total)} ${item.label}` : `${count(item.done)} ${item.label}`;
    return h('div', { class: 'progress-item' },
      h('p', { class: 'progress-label' }, label, item.percent !== null ? ` (${item.percent} %)` : ''),
      h('progress', { max: item.total || 1, value: item.total ? item.done : 0, 'aria-label': label }));
  }));
}

/** Failed log entries of a job to date: a link to them, "none", or why it is unknown. */
export function failuresToDate(value, href, inbound = false) {
  const what = inbound ? 'records failed' : 'objects failed';
  if (value === undefined) return h('p', { class: 'muted small' }, 'Counting failures to date…');
  if (value instanceof Error || (value && typeof value === 'object')) {
    return h('p', { class: 'muted small' }, value.status === 403
      ? 'Failures to date: this sign-in may not read the provisioning logs (AuditLog.Read.All).'
      : `Failures to date: unknown (${value.message || value}).`);
  }
  if (!value) return h('p', { class: 'small muted' }, h('span', { 'aria-hidden': 'true' }, '✔ '), 'No failures in the logs to date');
  return h('p', { class: 'small fail-count' }, h('span', { 'aria-hidden': 'true' }, '✖ '),
    h('a', { href }, `${count(value)} ${value === 1 ? what.replace('s failed', ' failed') : what} to date`), ' (log entries kept)');
}

/** The quarantine box (null when not quarantined). */
export function quarantine(job) {
  const q = job.status?.quarantine;
  if (!q) return null;
  return h('div', { class: 'quarantine', role: 'note' },
    h('p', { class: 'quarantine-title' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), 'In quarantine: ',
      h('strong', {}, q.reason || 'unknown reason')),
    q.error ? h('p', {}, h('strong', {}, q.error.code || 'Error'), ': ', q.error.message || '') : null,
    facts([
      ['Since', time(q.currentBegan || q.seriesBegan)],
      ['Next attempt', q.nextAttempt ? h('time', { datetime: q.nextAttempt, title: dateTime(q.nextAttempt) },
        relative(q.nextAttempt)) : '—'],
      ['Series', q.seriesCount !== undefined ? `${count(q.seriesCount)} attempts since ${dateTime(q.seriesBegan)}` : null],
    ], 'facts compact'));
}

/** synchronizedEntryCountByType as a small table. */
export function entryCounts(job) {
  const rows = job.status?.synchronizedEntryCountByType || [];
  if (!rows.length) return h('p', { class: 'muted' }, 'No objects synchronized yet.');
  return h('table', { class: 'mini' },
    h('caption', { class: 'sr-only' }, 'Synchronized objects by type'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col', class: 'num' }, 'Objects'))),
    h('tbody', {}, rows.map((row) => h('tr', {}, h('td', {}, row.key), h('td', { class: 'num' }, count(row.value))))));
}

/** The facts of a job: schedule, steady state, last successful cycles. */
export function scheduleFacts(job) {
  const status = job.status || {};
  return facts([
    ['Template', job.templateId],
    ['Interval', duration(job.schedule?.interval)],
    ['Steady state reached', time(status.steadyStateLastAchievedTime)],
    ['First steady state', time(status.steadyStateFirstAchievedTime)],
    ['Last successful cycle', time(status.lastSuccessfulExecution?.timeEnded)],
    ['Last cycle with exports', time(status.lastSuccessfulExecutionWithExports?.timeEnded)],
    status.countSuccessiveCompleteFailures ? ['Failures in a row', count(status.countSuccessiveCompleteFailures)] : null,
  ]);
}
