// Pure helpers: no DOM, no network. Everything here turns API values into words people read.
// Examples marked "@example input => output" are checked by tests/api/test_dashboard.py.

const NEVER = '0001-01-01';

/** True for Graph's "never" timestamps (null, empty, 0001-01-01…). */
export function isNever(value) {
  return !value || String(value).startsWith(NEVER);
}

/** A date-time in the reader's locale, or an em dash for "never". */
export function dateTime(value) {
  if (isNever(value)) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/**
 * "3 min ago", "in 2 h": how far `value` is from `now` (both Date-parsable).
 * @example relative("2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z") => "30 s ago"
 * @example relative("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z") => "5 min ago"
 * @example relative("2026-01-02T00:00:00Z", "2026-01-01T22:00:00Z") => "in 2 h"
 * @example relative("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z") => "never"
 */
export function relative(value, now = new Date()) {
  if (isNever(value)) return 'never';
  const seconds = Math.round((new Date(now).getTime() - new Date(value).getTime()) / 1000);
  const size = Math.abs(seconds);
  let text;
  if (size < 60) text = `${size} s`;
  else if (size < 3600) text = `${Math.round(size / 60)} min`;
  else if (size < 86400 * 2) text = `${Math.round(size / 3600)} h`;
  else text = `${Math.round(size / 86400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

/**
 * An ISO 8601 duration (as the API writes schedule intervals) in words.
 * @example duration("PT40M") => "40 min"
 * @example duration("P1DT2H30M") => "1 d 2 h 30 min"
 * @example duration("PT0.5S") => "0.5 s"
 * @example duration("P10675199DT2H48M5.4775807S") => "never"
 */
export function duration(value) {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(String(value || ''));
  if (!match) return value ? String(value) : '—';
  const [, d, h, m, s] = match;
  if (Number(d) > 36500) return 'never';  // TimeSpan.MaxValue: a job that is not scheduled
  const parts = [];
  if (Number(d)) parts.push(`${Number(d)} d`);
  if (Number(h)) parts.push(`${Number(h)} h`);
  if (Number(m)) parts.push(`${Number(m)} min`);
  if (Number(s)) parts.push(`${Number(s)} s`);
  return parts.length ? parts.join(' ') : '0 s';
}

/** An integer with thousands separators; "—" when absent. */
export function count(value) {
  return typeof value === 'number' ? value.toLocaleString() : '—';
}

// Tones are colours *and* an icon *and* a word, so no state is told by colour alone.
const TONES = {
  ok: '✔', warn: '▲', bad: '✖', idle: '■', busy: '↻', info: '●',
};

/** {tone, icon, label} of a tone name and label. */
function badge(tone, label) {
  return { tone, icon: TONES[tone], label };
}

/**
 * The schedule state of a job.
 * @example scheduleBadge("Active").tone => "ok"
 * @example scheduleBadge("Paused").label => "Paused"
 * @example scheduleBadge("Disabled").tone => "idle"
 */
export function scheduleBadge(state) {
  switch (state) {
    case 'Active': return badge('ok', 'Active');
    case 'Paused': return badge('warn', 'Paused');
    case 'Disabled': return badge('idle', 'Disabled');
    default: return badge('info', state || 'Unknown');
  }
}

/**
 * The status code of a job (synchronizationStatusCode).
 * @example statusBadge("Quarantine").tone => "bad"
 * @example statusBadge("Active").tone => "ok"
 * @example statusBadge("NotConfigured").label => "Not configured"
 */
export function statusBadge(code) {
  switch (code) {
    case 'Active': return badge('ok', 'Active');
    case 'Paused': return badge('warn', 'Paused');
    case 'Quarantine': return badge('bad', 'Quarantine');
    case 'NotRun': return badge('idle', 'Not run');
    case 'NotConfigured': return badge('idle', 'Not configured');
    default: return badge('info', code || 'Unknown');
  }
}

/**
 * The state of an execution (synchronizationTaskExecution.state).
 * @example executionBadge("Succeeded").tone => "ok"
 * @example executionBadge("EntryLevelErrors").label => "Entry-level errors"
 * @example executionBadge("Failed").tone => "bad"
 */
export function executionBadge(state) {
  switch (state) {
    case 'Succeeded': return badge('ok', 'Succeeded');
    case 'EntryLevelErrors': return badge('warn', 'Entry-level errors');
    case 'Failed': return badge('bad', 'Failed');
    default: return badge('info', state || 'Unknown');
  }
}

/**
 * The status of a provisioning log entry or step (success, failure, skipped, warning).
 * @example logBadge("failure").tone => "bad"
 * @example logBadge("Success").label => "Success"
 * @example logBadge("skipped").tone => "idle"
 */
export function logBadge(status) {
  const value = String(status || '').toLowerCase();
  switch (value) {
    case 'success': return badge('ok', 'Success');
    case 'failure': return badge('bad', 'Failure');
    case 'warning': return badge('warn', 'Warning');
    case 'skipped': return badge('idle', 'Skipped');
    default: return badge('info', status || 'Unknown');
  }
}

/** The progress of a running cycle: [{label, done, total, percent}] from status.progress. */
export function progressOf(status) {
  return (status?.progress || []).map((item) => {
    const total = Number(item.totalUnits) || 0;
    const done = Number(item.completedUnits) || 0;
    return {
      label: item.units || 'units',
      done,
      total,
      percent: total > 0 ? Math.min(100, Math.round((done / total) * 100)) : null,
      at: item.progressObservationDateTime,
    };
  });
}

/** True for the built-in template of API-driven inbound provisioning. */
export function isInbound(job) {
  return String(job?.templateId || '').toLowerCase() === 'api2aad';
}

/**
 * A source of an attribute mapping as expression text; the API sends `expression`, this is the
 * fallback for a source written without it.
 * @example expressionText({"type": "Attribute", "name": "mail"}) => "[mail]"
 * @example expressionText({"type": "Constant", "name": "x\"y"}) => "\"x\\\"y\""
 */
export function expressionText(source) {
  if (!source) return '';
  if (source.expression) return source.expression;
  if (source.type === 'Attribute') return `[${source.name}]`;
  if (source.type === 'Constant') return JSON.stringify(String(source.name ?? ''));
  const args = (source.parameters || []).map((p) => expressionText(p.value));
  return `${source.name}(${args.join(', ')})`;
}

/** ISO text of a <input type=datetime-local> value (local time), or "" for none. */
export function localInputToIso(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An OData string literal. */
function literal(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}

/**
 * The $filter of the provisioning-logs filters (what /auditLogs/provisioning accepts).
 * @example logFilter({"jobId": "scim.1.2"}) => "jobId eq 'scim.1.2'"
 * @example logFilter({"status": "failure", "action": "create"}) => "provisioningStatusInfo/status eq 'failure' and provisioningAction eq 'create'"
 * @example logFilter({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}) => "activityDateTime ge 2026-01-01T00:00:00Z and activityDateTime lt 2026-02-01T00:00:00Z"
 * @example logFilter({"cycleId": "O'Neil"}) => "cycleId eq 'O''Neil'"
 * @example logFilter({}) => ""
 */
export function logFilter({ jobId, cycleId, status, action, since, until } = {}) {
  const clauses = [];
  if (jobId) clauses.push(`jobId eq ${literal(jobId)}`);
  if (cycleId) clauses.push(`cycleId eq ${literal(cycleId)}`);
  if (status) clauses.push(`provisioningStatusInfo/status eq ${literal(status)}`);
  if (action) clauses.push(`provisioningAction eq ${literal(action)}`);
  if (since) clauses.push(`activityDateTime ge ${since}`);
  if (until) clauses.push(`activityDateTime lt ${until}`);
  return clauses.join(' and ');
}

/** The restart body for a set of resetScope flags (none → no criteria, as the API's default). */
export function restartBody(flags) {
  const chosen = (flags || []).filter(Boolean);
  return chosen.length ? { criteria: { resetScope: chosen.join(', ') } } : {};
}

/**
 * provisionOnDemand's answer (a stringKeyStringValuePair of two JSON texts) as one object:
 * {result, errorCode, errorMessage, action, steps, modifiedProperties}.
 */
export function onDemandResult(pair) {
  const parse = (text) => {
    try { return JSON.parse(text || '{}') || {}; } catch { return {}; }
  };
  const key = parse(pair?.key);
  const value = parse(pair?.value);
  return {
    result: key.result || value.statusInfo?.status || 'Unknown',
    errorCode: key.details?.errorCode || value.statusInfo?.errorCode || null,
    errorMessage: key.details?.errorMessage || value.statusInfo?.reason || null,
    action: value.action || '',
    steps: value.provisioningSteps || [],
    modifiedProperties: value.modifiedProperties || [],
  };
}

/** The claims of a JWT, for display only (the server verifies tokens, not the dashboard). */
export function tokenClaims(token) {
  try {
    const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const text = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Plain numbers of an execution's counters worth showing, labelled for outbound or inbound. */
export function executionCounters(execution, inbound = false) {
  if (!execution) return [];
  const rows = inbound
    ? [['Records received', execution.countImported], ['Applied', execution.countExported],
      ['Failed', execution.countEscrowed]]
    : [['Imported', execution.countImported], ['In scope', execution.countEntitledForProvisioning],
      ['Exported', execution.countExported], ['Escrowed', execution.countEscrowed]];
  return rows.filter(([, value]) => typeof value === 'number');
}

/** The restart resetScope flags the API takes, with what each does. No flag: the API's default
 *  (QuarantineState, Watermark, Escrows — the portal's "Restart provisioning"). */
export const RESET_SCOPES = [
  ['Watermark', 'Forget the watermark: the next cycle is an initial cycle over everything in scope.'],
  ['Escrows', 'Drop the pending retries of objects that failed.'],
  ['QuarantineState', 'Lift the quarantine.'],
  ['ConnectorDataStore', 'Forget which source and target objects are linked (they are matched again).'],
  ['Full', 'All of the above.'],
  ['ForceDeletes', 'Apply the deletes held back by the accidental-deletions threshold.'],
];

/** The values the provisioning-logs filters offer (what the API writes). */
export const LOG_STATUSES = ['success', 'failure', 'skipped', 'warning'];
export const LOG_ACTIONS = ['create', 'update', 'delete', 'disable', 'stagedDelete', 'other'];
