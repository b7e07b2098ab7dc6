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
 * @example relative("2026-01-01T00:00:00.4Z", "2026-01-01T00:00:00.9Z") => "just now"
 */
export function relative(value, now = new Date()) {
  if (isNever(value)) return 'never';
  const seconds = Math.round((new Date(now).getTime() - new Date(value).getTime()) / 1000);
  const size = Math.abs(seconds);
  if (size < 2) return 'just now';
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
 * @example logFilter({"servicePrincipalId": "sp-1", "sourceId": "user-1"}) => "servicePrincipal/id eq 'sp-1' and sourceIdentity/id eq 'user-1'"
 * @example logFilter({}) => ""
 */
export function logFilter({ jobId, cycleId, status, action, since, until, servicePrincipalId, sourceId } = {}) {
  const clauses = [];
  if (jobId) clauses.push(`jobId eq ${literal(jobId)}`);
  if (cycleId) clauses.push(`cycleId eq ${literal(cycleId)}`);
  if (servicePrincipalId) clauses.push(`servicePrincipal/id eq ${literal(servicePrincipalId)}`);
  if (sourceId) clauses.push(`sourceIdentity/id eq ${literal(sourceId)}`);
  if (status) clauses.push(`provisioningStatusInfo/status eq ${literal(status)}`);
  if (action) clauses.push(`provisioningAction eq ${literal(action)}`);
  if (since) clauses.push(`activityDateTime ge ${since}`);
  if (until) clauses.push(`activityDateTime lt ${until}`);
  return clauses.join(' and ');
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The directory $filter that finds people by the start of their name, sign-in name or mail (an
 * object id finds that object): what provision on demand and the logs' person filter search with.
 * @example peopleFilter("ali") => "startswith(displayName,'ali') or startswith(userPrincipalName,'ali') or startswith(mail,'ali') or startswith(surname,'ali')"
 * @example peopleFilter(" O'Neil ") => "startswith(displayName,'O''Neil') or startswith(userPrincipalName,'O''Neil') or startswith(mail,'O''Neil') or startswith(surname,'O''Neil')"
 * @example peopleFilter("8C78D62A-EA82-4D96-92AF-0FF3B14A9AAB") => "id eq '8C78D62A-EA82-4D96-92AF-0FF3B14A9AAB'"
 */
export function peopleFilter(text) {
  const value = String(text || '').trim();
  if (GUID.test(value)) return `id eq ${literal(value)}`;
  return ['displayName', 'userPrincipalName', 'mail', 'surname']
    .map((name) => `startswith(${name},${literal(value)})`).join(' or ');
}

/**
 * The directory $filter that finds groups by the start of their name or mail (or by id).
 * @example groupsFilter("sal") => "startswith(displayName,'sal') or startswith(mail,'sal')"
 */
export function groupsFilter(text) {
  const value = String(text || '').trim();
  if (GUID.test(value)) return `id eq ${literal(value)}`;
  return `startswith(displayName,${literal(value)}) or startswith(mail,${literal(value)})`;
}

/**
 * Whether a cycle runs now. While a cycle runs the engine writes status.progress about every
 * second; when it ends it writes lastExecution and a last progress with the same time. So a
 * cycle runs when the progress is newer than the last cycle's end. A job that is not Active
 * (paused during a cycle) is "stopped"; progress older than `staleAfter` seconds is "stalled".
 * Returns "running", "stalled", "stopped" or "idle".
 * @example cycleState({"schedule": {"state": "Active"}, "status": {"progress": [{"progressObservationDateTime": "2026-01-01T00:00:10Z"}], "lastExecution": {"timeEnded": "2026-01-01T00:00:00Z"}}}, "2026-01-01T00:00:11Z") => "running"
 * @example cycleState({"schedule": {"state": "Active"}, "status": {"progress": [{"progressObservationDateTime": "2026-01-01T00:00:10Z"}], "lastExecution": null}}, "2026-01-01T00:00:11Z") => "running"
 * @example cycleState({"schedule": {"state": "Active"}, "status": {"progress": [{"progressObservationDateTime": "2026-01-01T00:00:00.5Z"}], "lastExecution": {"timeEnded": "2026-01-01T00:00:00.500Z"}}}, "2026-01-01T00:00:11Z") => "idle"
 * @example cycleState({"schedule": {"state": "Paused"}, "status": {"progress": [{"progressObservationDateTime": "2026-01-01T00:00:10Z"}], "lastExecution": {"timeEnded": "2026-01-01T00:00:00Z"}}}, "2026-01-01T00:00:11Z") => "stopped"
 * @example cycleState({"schedule": {"state": "Active"}, "status": {"progress": [{"progressObservationDateTime": "2026-01-01T00:00:10Z"}], "lastExecution": {"timeEnded": "2026-01-01T00:00:00Z"}}}, "2026-01-01T00:10:00Z") => "stalled"
 * @example cycleState({"schedule": {"state": "Active"}, "status": {"progress": []}}, "2026-01-01T00:00:11Z") => "idle"
 */
export function cycleState(job, now = new Date(), staleAfter = 120) {
  const observed = (job?.status?.progress || [])
    .map((item) => new Date(item.progressObservationDateTime).getTime())
    .filter((time) => !Number.isNaN(time));
  if (!observed.length) return 'idle';
  const latest = Math.max(...observed);
  const ended = job?.status?.lastExecution?.timeEnded;
  const endedAt = isNever(ended) ? -Infinity : new Date(ended).getTime();
  if (!(latest > endedAt)) return 'idle';
  if (job?.schedule?.state !== 'Active') return 'stopped';
  return (new Date(now).getTime() - latest) / 1000 > staleAfter ? 'stalled' : 'running';
}

/**
 * What the overview's "Show" filter files a job under: running, quarantine, failing (the last
 * cycle failed or had entry-level errors), paused, notStarted or ok.
 * @example jobCategory({"schedule": {"state": "Active"}, "status": {"code": "Quarantine"}}) => "quarantine"
 * @example jobCategory({"schedule": {"state": "Active"}, "status": {"code": "Active", "lastExecution": {"state": "EntryLevelErrors", "timeEnded": "2026-01-01T00:00:00Z"}}}) => "failing"
 * @example jobCategory({"schedule": {"state": "Disabled"}, "status": {"code": "NotConfigured"}}) => "notStarted"
 * @example jobCategory({"schedule": {"state": "Paused"}, "status": {"code": "Paused"}}) => "paused"
 * @example jobCategory({"schedule": {"state": "Active"}, "status": {"code": "Active", "lastExecution": {"state": "Succeeded", "timeEnded": "2026-01-01T00:00:00Z"}}}) => "ok"
 */
export function jobCategory(job, now = new Date()) {
  const cycle = cycleState(job, now);
  if (cycle === 'running' || cycle === 'stalled') return 'running';
  const status = job?.status || {};
  if (status.code === 'Quarantine') return 'quarantine';
  const last = status.lastExecution?.state;
  if (last === 'Failed' || last === 'EntryLevelErrors' || status.countSuccessiveCompleteFailures > 0) return 'failing';
  const schedule = job?.schedule?.state;
  if (schedule === 'Paused') return 'paused';
  if (schedule !== 'Active') return 'notStarted';
  return 'ok';
}

/** The overview's "Show" choices: [value, label]. */
export const JOB_CATEGORIES = [
  ['', 'All jobs'], ['running', 'Running now'], ['quarantine', 'In quarantine'], ['failing', 'With errors'],
  ['paused', 'Paused'], ['notStarted', 'Not started'], ['ok', 'Healthy'],
];

/**
 * Whether a job of the overview matches a search: every word in the application's name or the
 * template, or the whole text inside one of its ids (app id, service principal id, job id).
 * @example jobMatches({"sp": {"displayName": "Contoso SCIM", "appId": "a1"}, "job": {"id": "scim.1", "templateId": "scim"}}, "contoso scim") => true
 * @example jobMatches({"sp": {"displayName": "Fabrikam app 017", "appId": "a1"}, "job": {"id": "scim.17ab", "templateId": "scim"}}, "app 17") => false
 * @example jobMatches({"sp": {"displayName": "Fabrikam app 170", "appId": "a1"}, "job": {"id": "scim.1", "templateId": "scim"}}, "app 17") => true
 * @example jobMatches({"sp": {"displayName": "Contoso", "appId": "5d32181e-98cc"}, "job": {"id": "scim.1"}}, "5D32181E") => true
 * @example jobMatches({"sp": {"displayName": "Contoso"}, "job": {"id": "x"}}, "  ") => true
 */
export function jobMatches(row, text) {
  const query = String(text || '').trim().toLowerCase();
  if (!query) return true;
  const ids = [row?.sp?.appId, row?.sp?.id, row?.job?.id].filter(Boolean).map((id) => String(id).toLowerCase());
  if (ids.some((id) => id.includes(query))) return true;
  const words = [row?.sp?.displayName, row?.sp?.appDisplayName, row?.job?.templateId].filter(Boolean).join(' ')
    .toLowerCase().split(/[\s,.;:/()_-]+/).filter(Boolean);
  return query.split(/\s+/).every((part) => words.some((word) => word.startsWith(part)));
}

const UNIT_SECONDS = { D: 86400, H: 3600, M: 60, S: 1 };

/**
 * A schedule interval as {value, unit} for the schedule form: the largest unit (D, H, M, S) that
 * divides it; null for "never" (a job that is not scheduled) or a text it cannot read.
 * @example intervalParts("PT40M") => {"value": 40, "unit": "M"}
 * @example intervalParts("PT2H") => {"value": 2, "unit": "H"}
 * @example intervalParts("P1D") => {"value": 1, "unit": "D"}
 * @example intervalParts("PT1H30M") => {"value": 90, "unit": "M"}
 * @example intervalParts("PT90S") => {"value": 90, "unit": "S"}
 * @example intervalParts("P10675199DT2H48M5.4775807S") => null
 */
export function intervalParts(value) {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(String(value || ''));
  if (!match) return null;
  const [, d, h, m, s] = match.map((part) => Number(part || 0));
  if (d > 36500) return null;
  const seconds = d * 86400 + h * 3600 + m * 60 + s;
  if (!seconds) return null;
  const unit = ['D', 'H', 'M', 'S'].find((name) => seconds % UNIT_SECONDS[name] === 0);
  return { value: seconds / UNIT_SECONDS[unit], unit };
}

/**
 * The ISO 8601 duration of a number of units (what PATCH job takes as schedule.interval).
 * @example intervalIso(40, "M") => "PT40M"
 * @example intervalIso(1, "D") => "P1D"
 * @example intervalIso(36, "H") => "PT36H"
 * @example intervalIso(30, "S") => "PT30S"
 */
export function intervalIso(value, unit) {
  const amount = Math.max(1, Math.floor(Number(value) || 0));
  return unit === 'D' ? `P${amount}D` : `PT${amount}${unit}`;
}

/**
 * The value of a job setting (synchronizationJobSettings), or "" when it is not set.
 * @example jobSetting({"synchronizationJobSettings": [{"name": "QuarantineTooManyDeletesThreshold", "value": "50"}]}, "QuarantineTooManyDeletesThreshold") => "50"
 * @example jobSetting({}, "X") => ""
 */
export function jobSetting(job, name) {
  return (job?.synchronizationJobSettings || []).find((pair) => pair.name === name)?.value ?? '';
}

/**
 * The value of a secret in GET …/secrets' list, or "" (sensitive values read "*").
 * @example secretValue([{"key": "BaseAddress", "value": "https://x"}], "BaseAddress") => "https://x"
 * @example secretValue([], "SyncAll") => ""
 */
export function secretValue(pairs, key) {
  return (pairs || []).find((pair) => pair.key === key)?.value ?? '';
}

/**
 * SyncNotificationSettings (a JSON text in the job's secrets), with Entra's defaults filled in.
 * @example notificationSettings('{"Enabled":true,"Recipients":"ops@contoso.test","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}') => {"Enabled": true, "Recipients": "ops@contoso.test", "DeleteThresholdEnabled": true, "DeleteThresholdValue": 50}
 * @example notificationSettings("") => {"Enabled": false, "Recipients": "", "DeleteThresholdEnabled": false, "DeleteThresholdValue": 500}
 * @example notificationSettings("not json") => {"Enabled": false, "Recipients": "", "DeleteThresholdEnabled": false, "DeleteThresholdValue": 500}
 */
export function notificationSettings(text) {
  let parsed = {};
  try { parsed = JSON.parse(text || '{}') || {}; } catch { parsed = {}; }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) parsed = {};
  const threshold = Number.isInteger(parsed.DeleteThresholdValue) ? parsed.DeleteThresholdValue : 500;
  return {
    Enabled: parsed.Enabled === true || String(parsed.Enabled).toLowerCase() === 'true',
    Recipients: typeof parsed.Recipients === 'string' ? parsed.Recipients : '',
    DeleteThresholdEnabled: parsed.DeleteThresholdEnabled === true || String(parsed.DeleteThresholdEnabled).toLowerCase() === 'true',
    DeleteThresholdValue: threshold,
  };
}

/**
 * The names of the attributes an expression reads ([name]), in order, once each; text in
 * quotes is not read.
 * @example expressionAttributes('Join(" ", [givenName], [surname])') => ["givenName", "surname"]
 * @example expressionAttributes('Replace([mail], , "[x]", , "", , ) & [mail]') => ["mail"]
 * @example expressionAttributes('"\\"[no]"') => []
 */
export function expressionAttributes(expression) {
  const text = String(expression || '').replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = [];
  for (const match of text.matchAll(/\[([^\]]+)\]/g)) {
    if (!names.includes(match[1])) names.push(match[1]);
  }
  return names;
}

/**
 * "key=value" lines (the expression tester's test object) as parseExpression's
 * testInputObject.properties; lines without "=" are skipped.
 * @example testProperties("givenName=Alice\nsurname = Adams\n\nnoise") => [{"key": "givenName", "value": "Alice"}, {"key": "surname", "value": "Adams"}]
 */
export function testProperties(text) {
  return String(text || '').split(/\r?\n/).map((line) => {
    const at = line.indexOf('=');
    if (at < 1) return null;
    return { key: line.slice(0, at).trim(), value: line.slice(at + 1).trim() };
  }).filter((pair) => pair && pair.key);
}

/**
 * A scoping clause in words.
 * @example clauseText({"sourceOperandName": "department", "operatorName": "EQUALS", "targetOperand": {"values": ["Sales", "Ops"]}}) => "department EQUALS Sales or Ops"
 * @example clauseText({"sourceOperandName": "accountEnabled", "operatorName": "IS TRUE"}) => "accountEnabled IS TRUE"
 */
export function clauseText(clause) {
  const values = clause?.targetOperand?.values || [];
  return [clause?.sourceOperandName, clause?.operatorName, values.length ? values.join(' or ') : null]
    .filter(Boolean).join(' ');
}

/**
 * One CSV cell: quoted when it must be, and a leading = + - @ neutralised so that a spreadsheet
 * never runs a value from the logs as a formula.
 * @example csvCell('a,"b"') => "\"a,\"\"b\"\"\""
 * @example csvCell("=SUM(A1)") => "'=SUM(A1)"
 * @example csvCell(null) => ""
 * @example csvCell(42) => "42"
 */
export function csvCell(value) {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The columns of the logs' CSV download: [header, value of an entry]. */
export const LOG_COLUMNS = [
  ['activityDateTime', (e) => e.activityDateTime],
  ['status', (e) => e.provisioningStatusInfo?.status],
  ['action', (e) => e.provisioningAction],
  ['sourceDisplayName', (e) => e.sourceIdentity?.displayName],
  ['sourceId', (e) => e.sourceIdentity?.id],
  ['targetDisplayName', (e) => e.targetIdentity?.displayName],
  ['targetId', (e) => e.targetIdentity?.id],
  ['application', (e) => e.servicePrincipal?.displayName],
  ['servicePrincipalId', (e) => e.servicePrincipal?.id],
  ['jobId', (e) => e.jobId],
  ['cycleId', (e) => e.cycleId],
  ['errorCode', (e) => e.provisioningStatusInfo?.errorInformation?.errorCode],
  ['reason', (e) => e.provisioningStatusInfo?.errorInformation?.reason],
  ['id', (e) => e.id],
];

/**
 * Log entries as CSV (a header line, CRLF line ends).
 * @example logsCsv([{"id": "1", "activityDateTime": "2026-01-01T00:00:00Z", "provisioningAction": "create", "provisioningStatusInfo": {"status": "failure", "errorInformation": {"errorCode": "BadRequest", "reason": "no, thanks"}}, "sourceIdentity": {"displayName": "Fail Fred"}}]).split("\r\n")[1] => "2026-01-01T00:00:00Z,failure,create,Fail Fred,,,,,,,,BadRequest,\"no, thanks\",1"
 */
export function logsCsv(entries) {
  const lines = [LOG_COLUMNS.map(([name]) => name).join(',')];
  for (const entry of entries || []) lines.push(LOG_COLUMNS.map(([, value]) => csvCell(value(entry))).join(','));
  return `${lines.join('\r\n')}\r\n`;
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
