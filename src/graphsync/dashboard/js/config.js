// A job's configuration: the target's address and token (with "Test connection"), the schedule,
// and the settings (scope, accidental-deletion threshold, notification). Each form saves with
// the API calls any Graph client would make: PUT …/secrets, PATCH …/jobs/{id},
// POST …/jobs/{id}/validateCredentials.
import { graph, path } from './api.js';
import { done, errorBox, field, h, loading, replace, toast } from './dom.js';
import {
  duration, intervalIso, intervalParts, isInbound, jobSetting, notificationSettings, secretValue,
} from './format.js';

const THRESHOLD_SETTING = 'QuarantineTooManyDeletesThreshold';
const UNITS = [['S', 'seconds'], ['M', 'minutes'], ['H', 'hours'], ['D', 'days']];

/** After a form was drawn anew with what was saved: say so in it, and keep the focus on its button. */
function settled(area, text) {
  const status = area.querySelector('.form-status');
  if (status) replace(status, done(text));
  area.querySelector('button[type="submit"]')?.focus();
}

export function configView(root, ids, initialJob) {
  let job = initialJob;
  let secrets = [];
  const inbound = isInbound(job);
  const connection = h('div');
  const schedule = h('div');
  const settings = h('div');
  const keys = h('div');
  replace(root,
    h('div', { class: 'config-grid' },
      inbound ? null : h('div', { class: 'config-part' }, connection),
      h('div', { class: 'config-part' }, schedule),
      h('div', { class: 'config-part' }, settings)),
    keys);
  replace(connection, loading('Loading the connection…'));
  replace(settings, loading('Loading the settings…'));

  async function putSecrets(pairs) {
    await graph(path('secrets', ids), { method: 'PUT', body: { value: pairs } });
    await loadSecrets();
  }

  // -- connection -----------------------------------------------------------------------------
  function renderConnection() {
    const savedToken = secrets.some((pair) => pair.key === 'SecretToken');
    const saved = secretValue(secrets, 'BaseAddress');
    const base = h('input', { id: 'cfg-base', type: 'url', value: saved, autocomplete: 'off', spellcheck: 'false',
      placeholder: 'https://scim.example.com/scim/v2', required: true });
    const token = h('input', { id: 'cfg-token', type: 'password', autocomplete: 'new-password', spellcheck: 'false',
      placeholder: savedToken ? 'saved: leave empty to keep it' : 'bearer token of the SCIM app' });
    const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
    const test = h('button', { type: 'button', class: 'button' }, 'Test connection');
    const save = h('button', { type: 'submit', class: 'button primary' }, 'Save connection');
    const form = h('form', { class: 'form', 'aria-labelledby': 'cfg-conn-title' },
      h('h3', { id: 'cfg-conn-title' }, 'Connection'),
      field('Tenant URL (BaseAddress)', base, 'The SCIM endpoint of the application.'),
      field('Secret token', token, savedToken
        ? 'A token is saved (nobody can read it back). A new tenant URL needs its token again: graphsync drops the saved one rather than send it elsewhere.'
        : 'Sent as "Authorization: Bearer …" with every request to the application.'),
      h('div', { class: 'actions' }, test, save),
      status);

    function credentials() {
      const pairs = [{ key: 'BaseAddress', value: base.value.trim() }];
      if (token.value) pairs.push({ key: 'SecretToken', value: token.value });
      return pairs;
    }

    test.addEventListener('click', async () => {
      if (!base.reportValidity()) return;
      test.disabled = true;
      replace(status, h('p', { role: 'status' }, 'Testing the connection…'));
      const unchanged = base.value.trim() === saved && !token.value;
      const body = unchanged ? { useSavedCredentials: true } : { credentials: credentials() };
      try {
        await graph(path('validateCredentials', ids), { method: 'POST', body });
        replace(status, done(`The application answered: the credentials work${unchanged ? ' (the saved ones)' : ''}.`));
      } catch (error) {
        if (error.status !== 401) replace(status, errorBox(error, 'connect'));
      } finally {
        test.disabled = false;
      }
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      save.disabled = true;
      replace(status, h('p', { role: 'status' }, 'Saving…'));
      try {
        await putSecrets(credentials());
        toast('Connection saved');
        settled(connection, 'Saved.');
      } catch (error) {
        if (error.status !== 401) replace(status, errorBox(error, 'save the connection'));
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }

  // -- schedule -------------------------------------------------------------------------------
  const current = h('p', { class: 'muted small', id: 'cfg-interval-now' });
  function renderSchedule() {
    const parts = intervalParts(job.schedule?.interval) || { value: 40, unit: 'M' };
    const value = h('input', { id: 'cfg-interval', type: 'number', min: 1, step: 1, required: true, value: parts.value,
      'aria-describedby': 'cfg-interval-now' });
    const unit = h('select', { id: 'cfg-unit', 'aria-label': 'Unit of the interval' },
      UNITS.map(([code, label]) => h('option', { value: code, selected: code === parts.unit }, label)));
    const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', class: 'button primary' }, 'Save schedule');
    const form = h('form', { class: 'form', 'aria-labelledby': 'cfg-sched-title' },
      h('h3', { id: 'cfg-sched-title' }, 'Schedule'),
      h('div', { class: 'field' }, h('label', { for: 'cfg-interval' }, 'Run a cycle every'),
        h('div', { class: 'inline-fields tight' }, value, unit)),
      current,
      h('div', { class: 'actions' }, save),
      status);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      save.disabled = true;
      try {
        await graph(path('job', ids), { method: 'PATCH', body: { schedule: { interval: intervalIso(value.value, unit.value) } } });
        job = await graph(path('job', ids));
        describeSchedule();
        toast('Schedule saved');
        replace(status, done(`Saved: every ${duration(job.schedule?.interval)}.`));
      } catch (error) {
        if (error.status !== 401) replace(status, errorBox(error, 'save the schedule'));
      } finally {
        save.disabled = false;
      }
    });
    describeSchedule();
    return form;
  }

  function describeSchedule() {
    const state = job.schedule?.state || 'Disabled';
    const every = intervalParts(job.schedule?.interval) ? `every ${duration(job.schedule?.interval)}` : 'not scheduled';
    current.textContent = `Now: ${every} · schedule ${state}${state === 'Active' ? '' : ' (Start runs it; an unscheduled job then runs every 40 min)'}.`;
  }

  // -- settings -------------------------------------------------------------------------------
  function renderSettings() {
    const notify = notificationSettings(secretValue(secrets, 'SyncNotificationSettings'));
    const override = jobSetting(job, THRESHOLD_SETTING);
    const syncAll = secretValue(secrets, 'SyncAll').toLowerCase() === 'true';
    const assigned = h('input', { type: 'radio', name: 'cfg-scope', id: 'cfg-scope-assigned', value: 'false', checked: !syncAll });
    const all = h('input', { type: 'radio', name: 'cfg-scope', id: 'cfg-scope-all', value: 'true', checked: syncAll });
    const thresholdOn = h('input', { type: 'checkbox', id: 'cfg-delete-on', checked: override !== '' || notify.DeleteThresholdEnabled });
    const threshold = h('input', { id: 'cfg-delete-threshold', type: 'number', min: 0, step: 1, required: true,
      value: override !== '' ? override : notify.DeleteThresholdValue });
    const notifyOn = h('input', { type: 'checkbox', id: 'cfg-notify', checked: notify.Enabled });
    const recipients = h('input', { id: 'cfg-recipients', type: 'email', multiple: true, value: notify.Recipients,
      autocomplete: 'off', placeholder: 'ops@contoso.com' });
    const sync = () => { threshold.disabled = !thresholdOn.checked; recipients.disabled = !notifyOn.checked; };
    thresholdOn.addEventListener('change', sync);
    notifyOn.addEventListener('change', sync);
    sync();
    const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', class: 'button primary' }, 'Save settings');
    const form = h('form', { class: 'form', 'aria-labelledby': 'cfg-set-title' },
      h('h3', { id: 'cfg-set-title' }, 'Settings'),
      inbound ? null : h('fieldset', {},
        h('legend', {}, 'Scope'),
        h('div', { class: 'check' }, assigned, h('label', { for: 'cfg-scope-assigned' }, 'Sync only assigned users and groups')),
        h('div', { class: 'check' }, all, h('label', { for: 'cfg-scope-all' }, 'Sync all users and groups'))),
      h('fieldset', {},
        h('legend', {}, 'Prevent accidental deletions'),
        h('div', { class: 'check' }, thresholdOn, h('label', { for: 'cfg-delete-on' }, 'Hold deletions back above a threshold')),
        field('Deletion threshold (objects a cycle may delete)', threshold, override !== ''
          ? `The job setting ${THRESHOLD_SETTING} holds it; saving writes that setting.`
          : 'Above it the job goes into quarantine; restart with ForceDeletes to apply the deletions.')),
      h('fieldset', {},
        h('legend', {}, 'Notification'),
        h('div', { class: 'check' }, notifyOn, h('label', { for: 'cfg-notify' }, 'Send an email when a failure occurs')),
        field('Recipients', recipients, 'Kept with the job as Entra keeps it (SyncNotificationSettings); graphsync itself sends no email.')),
      h('div', { class: 'actions' }, save),
      status);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      save.disabled = true;
      const value = Number.parseInt(threshold.value, 10);
      const settingsText = JSON.stringify({
        Enabled: notifyOn.checked, Recipients: recipients.value.trim(),
        DeleteThresholdEnabled: thresholdOn.checked, DeleteThresholdValue: Number.isInteger(value) ? value : 500,
      });
      try {
        const pairs = [{ key: 'SyncNotificationSettings', value: settingsText }];
        if (!inbound) pairs.push({ key: 'SyncAll', value: all.checked ? 'true' : 'false' });
        await graph(path('secrets', ids), { method: 'PUT', body: { value: pairs } });
        if (override !== '') {  // the job setting wins over SyncNotificationSettings: keep them in step
          const others = (job.synchronizationJobSettings || []).filter((pair) => pair.name !== THRESHOLD_SETTING);
          const next = thresholdOn.checked ? [...others, { name: THRESHOLD_SETTING, value: String(value) }] : others;
          await graph(path('job', ids), { method: 'PATCH', body: { synchronizationJobSettings: next } });
          job = await graph(path('job', ids));
        }
        await loadSecrets();
        toast('Settings saved');
        settled(settings, 'Saved.');
      } catch (error) {
        if (error.status !== 401) replace(status, errorBox(error, 'save the settings'));
        save.disabled = false;
      }
    });
    return form;
  }

  async function loadSecrets() {
    try {
      secrets = (await graph(path('secrets', ids)))?.value || [];
      if (!inbound) replace(connection, renderConnection());
      replace(settings, renderSettings());
      replace(keys, h('p', { class: 'muted small' }, 'Secret keys stored: ',
        secrets.length ? secrets.map((pair, i) => [i ? ', ' : '', h('span', { class: 'mono' }, pair.key)]) : 'none',
        '. Sensitive values are never shown.'));
    } catch (error) {
      if (error.status === 401) return;
      replace(connection, errorBox(error, 'load the connection'));
      replace(settings, errorBox(error, 'load the settings'));
    }
  }

  replace(schedule, renderSchedule());
  loadSecrets();
  return {
    update(next) {
      job = next;
      describeSchedule();
    },
  };
}
