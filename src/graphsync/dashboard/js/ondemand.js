// Provision on demand: find the user or group by name, sign-in name or mail, then run the job's
// rule for that one object now and show what happened, step by step.
import { graph, path } from './api.js';
import { badge, errorBox, facts, h, loading, replace } from './dom.js';
import { logBadge, onDemandResult } from './format.js';
import { modifiedTable } from './logs.js';
import { picker } from './picker.js';

export function onDemandView(root, ids, afterRun) {
  let rules = null;
  let chosen = null;
  const type = h('select', { id: 'pod-type' }, h('option', { value: 'User' }, 'User'), h('option', { value: 'Group' }, 'Group'));
  const rule = h('select', { id: 'pod-rule' });
  const ruleField = h('div', { class: 'field', hidden: true }, h('label', { for: 'pod-rule' }, 'Rule'), rule);
  const selection = h('p', { class: 'selection', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'button', disabled: true }, 'Provision now');
  const result = h('div', { 'aria-live': 'polite' });
  const find = picker({
    id: 'pod-search', label: 'Find the user or group',
    hint: 'Type the start of a display name, sign-in name (UPN), mail or surname; or paste an object id.',
    kind: () => type.value,
    onPick(item) {
      chosen = item;
      submit.disabled = !item;
      replace(selection, item ? [h('span', { class: 'muted' }, 'Selected: '), h('strong', {}, item.displayName),
        item.detail ? h('span', { class: 'muted small' }, ` (${item.detail})`) : null] : null);
    },
  });
  type.addEventListener('change', () => { find.clear(); chosen = null; submit.disabled = true; replace(selection); });

  const form = h('form', { class: 'form pod', 'aria-labelledby': 'pod-title' },
    h('h3', { id: 'pod-title' }, 'Provision on demand'),
    h('div', { class: 'inline-fields' },
      h('div', { class: 'field' }, h('label', { for: 'pod-type' }, 'Object type'), type),
      ruleField),
    find.node,
    selection,
    h('div', { class: 'actions' }, submit),
    result);

  async function loadRules() {
    if (rules) return rules;
    const schema = await graph(path('schema', ids));
    rules = schema?.synchronizationRules || [];
    replace(rule, rules.map((r) => h('option', { value: r.id }, r.name || r.id)));
    ruleField.hidden = rules.length < 2;
    return rules;
  }
  loadRules().catch(() => {});

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!chosen) {
      replace(result, errorBox({ message: 'Find and select the user or group first.' }, 'provision'));
      find.focus();
      return;
    }
    submit.disabled = true;
    replace(result, loading(`Provisioning ${chosen.displayName}…`));
    try {
      const known = await loadRules();
      if (!known.length) throw new Error('The job\'s schema has no synchronization rule to run.');
      const body = { parameters: [{ ruleId: rule.value || known[0].id, subjects: [{ objectId: chosen.id, objectTypeName: type.value }] }] };
      const answer = onDemandResult(await graph(path('provisionOnDemand', ids), { method: 'POST', body }));
      replace(result, renderResult(answer, chosen));
      afterRun?.();
    } catch (error) {
      if (error.status !== 401) replace(result, errorBox(error, 'provision on demand'));
    } finally {
      submit.disabled = !chosen;
    }
  });
  replace(root, form);
}

function renderResult(answer, subject) {
  return h('div', { class: 'pod-result' },
    h('p', {}, badge(logBadge(answer.result)), ' ', h('strong', {}, subject.displayName),
      answer.action ? ` · ${answer.action}` : ''),
    answer.errorCode || answer.errorMessage
      ? h('p', { class: 'inline-error' }, answer.errorCode ? h('strong', {}, answer.errorCode) : null,
        answer.errorCode && answer.errorMessage ? ': ' : '', answer.errorMessage || '')
      : null,
    h('ol', { class: 'steps' }, answer.steps.map((step) => h('li', { class: `step tone-${logBadge(step.status).tone}` },
      h('p', {}, badge(logBadge(step.status)), ' ', h('strong', {}, step.type || step.provisioningStepType || ''), ' ',
        h('span', { class: 'muted small' }, step.name || '')),
      h('p', {}, step.description || ''),
      Object.keys(step.details || {}).length ? facts(Object.entries(step.details), 'facts compact') : null))),
    answer.modifiedProperties.length ? modifiedTable(answer.modifiedProperties) : null);
}
