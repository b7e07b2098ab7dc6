// The job's attribute mappings and scoping filters, editable: GET …/schema, edit a copy, then
// PUT it back whole (what the portal does). Each mapping has an expression tester beside it
// (POST …/schema/parseExpression with a test object). Changed expressions are parsed by the API
// before the save, so a typo is reported at its row instead of as a schema-wide 400.
import { graph, path } from './api.js';
import { badge, done, empty, errorBox, h, loading, replace, toast } from './dom.js';
import { expressionAttributes, expressionText, testProperties } from './format.js';
import { picker } from './picker.js';

const FLOW_TYPES = [['Always', 'Always'], ['ObjectAddOnly', 'Only when the object is created'],
  ['MultiValueAddOnly', 'Add values only'], ['ValueAddOnly', 'Value add only'], ['AttributeAddOnly', 'Attribute add only']];
const OBJECT_ACTIONS = [['Add', 'Create'], ['Update', 'Update'], ['Delete', 'Delete']];
const FALLBACK_OPERATORS = ['EQUALS', 'NOT EQUALS', 'IS TRUE', 'IS FALSE', 'IS NULL', 'IS NOT NULL', 'REGEX MATCH',
  'NOT REGEX MATCH', 'Greater_Than', 'Greater_Than_OR_EQUALS', 'Includes', 'ENDS_WITH', '&', '!&']
  .map((name) => ({ name, arity: name.startsWith('IS ') ? 'Unary' : 'Binary' }));

export function mappingsView(root, ids) {
  let schema = null;       // as saved
  let draft = null;        // the copy being edited
  let operators = FALLBACK_OPERATORS;
  let texts = new WeakMap(); // attribute mapping → expression text being edited
  let dirty = false;
  const list = h('div', { class: 'mapping-list' });
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const unsaved = h('span', { class: 'unsaved', hidden: true }, h('span', { 'aria-hidden': 'true' }, '● '), 'Unsaved changes');
  const save = h('button', { type: 'submit', class: 'button primary', disabled: true }, 'Save mappings');
  const discard = h('button', { type: 'button', class: 'button subtle', disabled: true }, 'Discard changes');
  const form = h('form', { class: 'mappings-form', 'aria-label': 'Attribute mappings and scoping filters', novalidate: true },
    list, h('div', { class: 'actions sticky-actions' }, save, discard, unsaved), status);
  replace(root, loading('Loading the schema…'));

  function changed() {
    dirty = true;
    unsaved.hidden = false;
    save.disabled = false;
    discard.disabled = false;
  }

  async function load() {
    try {
      const [loaded, ops] = await Promise.all([
        graph(path('schema', ids)),
        graph(path('filterOperators', ids)).catch(() => null),
      ]);
      schema = loaded;
      if (ops?.value?.length) operators = ops.value;
      reset();
    } catch (error) {
      if (error.status !== 401) replace(root, errorBox(error, 'load the schema'));
    }
  }

  function reset() {
    draft = structuredClone(schema);
    texts = new WeakMap();
    dirty = false;
    unsaved.hidden = true;
    save.disabled = true;
    discard.disabled = true;
    render();
    replace(root, h('p', { class: 'muted small' },
      'Edit the mappings and filters, test an expression beside its mapping, then save. Saving replaces the job\'s schema; the next cycle is then an initial cycle over every object.'),
    form);
  }

  discard.addEventListener('click', () => { reset(); replace(status, h('p', { class: 'muted' }, 'Changes discarded.')); });

  function objectOf(directoryName, objectName) {
    const directory = (draft.directories || []).find((d) => d.name === directoryName);
    return (directory?.objects || []).find((o) => o.name === objectName);
  }

  function render() {
    const rules = draft?.synchronizationRules || [];
    if (!rules.length) {
      replace(list, empty('No synchronization rules', 'The job\'s schema maps nothing.'));
      return;
    }
    replace(list, rules.map((rule, r) => h('div', { class: 'rule' },
      rules.length > 1 ? h('h3', {}, rule.name || rule.id) : null,
      (rule.objectMappings || []).map((mapping, m) => mappingEditor(rule, mapping, `r${r}m${m}`, true)))));
  }

  function mappingEditor(rule, mapping, key, open) {
    const source = objectOf(rule.sourceDirectoryName, mapping.sourceObjectName);
    const target = objectOf(rule.targetDirectoryName, mapping.targetObjectName);
    const sourceNames = (source?.attributes || []).map((a) => a.name);
    const targetNames = (target?.attributes || []).map((a) => a.name);
    const details = h('details', { class: 'mapping', open: open && mapping.enabled !== false });
    const title = mapping.name || `${mapping.sourceObjectName} → ${mapping.targetObjectName}`;

    function redraw(focusSelector) {
      const next = mappingEditor(rule, mapping, key, true);
      details.replaceWith(next);
      if (focusSelector) next.querySelector(focusSelector)?.focus();
    }

    const enabled = h('input', { type: 'checkbox', id: `${key}-enabled`, checked: mapping.enabled !== false });
    enabled.addEventListener('change', () => { mapping.enabled = enabled.checked; changed(); });
    const flows = String(mapping.flowTypes || '').split(',').map((v) => v.trim()).filter(Boolean);
    const actionBoxes = OBJECT_ACTIONS.map(([value, label]) => {
      const box = h('input', { type: 'checkbox', id: `${key}-flow-${value}`, value, checked: flows.includes(value) });
      box.addEventListener('change', () => {
        mapping.flowTypes = actionBoxes.filter((b) => b.box.checked).map((b) => b.value).join(', ') || 'None';
        changed();
      });
      return { box, value, label };
    });

    const lists = [
      h('datalist', { id: `${key}-targets` }, targetNames.map((name) => h('option', { value: name }))),
      h('datalist', { id: `${key}-sources` }, sourceNames.map((name) => h('option', { value: name }))),
    ];
    const rows = (mapping.attributeMappings || []).map((am, a) => attributeRow(am, a));

    function attributeRow(am, a) {
      const id = `${key}-a${a}`;
      const text = texts.has(am) ? texts.get(am) : expressionText(am.source);
      const expr = h('input', { id: `${id}-src`, class: 'mono', value: text, spellcheck: 'false', autocomplete: 'off' });
      expr.addEventListener('input', () => { texts.set(am, expr.value); expr.removeAttribute('aria-invalid'); changed(); });
      const targetInput = h('input', { id: `${id}-tgt`, class: 'mono', value: am.targetAttributeName || '', list: `${key}-targets`,
        spellcheck: 'false', autocomplete: 'off' });
      targetInput.title = targetInput.value;  // long SCIM paths do not fit the column
      targetInput.addEventListener('input', () => { am.targetAttributeName = targetInput.value.trim(); targetInput.title = targetInput.value; changed(); });
      const flow = h('select', { id: `${id}-flow` },
        FLOW_TYPES.map(([value, label]) => h('option', { value, selected: (am.flowType || 'Always') === value }, label)));
      flow.addEventListener('change', () => { am.flowType = flow.value; changed(); });
      const match = h('input', { id: `${id}-match`, type: 'number', min: 0, step: 1, value: am.matchingPriority || 0 });
      match.addEventListener('input', () => { am.matchingPriority = Math.max(0, Number.parseInt(match.value, 10) || 0); changed(); });
      const fallback = h('input', { id: `${id}-default`, value: am.defaultValue ?? '', spellcheck: 'false', autocomplete: 'off' });
      fallback.addEventListener('input', () => { am.defaultValue = fallback.value === '' ? null : fallback.value; changed(); });
      const tester = h('div', { class: 'tester', id: `${id}-tester`, hidden: true });
      const testButton = h('button', { type: 'button', class: 'button small-button', 'aria-expanded': 'false',
        'aria-controls': `${id}-tester`, 'aria-label': `Test the expression of ${am.targetAttributeName || 'a new mapping'}` }, 'Test');
      testButton.addEventListener('click', () => {
        const open = tester.hidden;
        tester.hidden = !open;
        testButton.setAttribute('aria-expanded', String(open));
        if (open && !tester.firstChild) replace(tester, expressionTester(am, expr, id));
        if (open) tester.querySelector('textarea')?.focus();
      });
      const remove = h('button', { type: 'button', class: 'button subtle small-button',
        'aria-label': `Remove the mapping to ${am.targetAttributeName || 'a new attribute'}` }, 'Remove');
      remove.addEventListener('click', () => {
        mapping.attributeMappings.splice(a, 1);
        changed();
        redraw(`#${CSS.escape(`${key}-add`)}`);
      });
      const cell = (label, input, cls = '') => h('div', { class: `am-cell ${cls}` },
        h('label', { for: input.id, class: 'am-label' }, label), input);
      return h('li', { class: 'am-row' },
        h('div', { class: 'am-fields' },
          cell('Source expression', expr, 'am-src'),
          cell('Target attribute', targetInput, 'am-tgt'),
          cell('Apply', flow),
          cell('Match priority', match, 'am-num'),
          cell('Default', fallback),
          h('div', { class: 'am-cell am-buttons' }, testButton, remove)),
        tester);
    }

    const add = h('button', { type: 'button', class: 'button', id: `${key}-add` }, '+ Add attribute mapping');
    add.addEventListener('click', () => {
      mapping.attributeMappings = mapping.attributeMappings || [];
      const fresh = { defaultValue: null, exportMissingReferences: false, flowBehavior: 'FlowWhenChanged', flowType: 'Always',
        matchingPriority: 0, source: null, targetAttributeName: '' };
      mapping.attributeMappings.push(fresh);
      texts.set(fresh, '');
      changed();
      redraw(`#${CSS.escape(`${key}-a${mapping.attributeMappings.length - 1}-src`)}`);
    });

    details.append(
      h('summary', {},
        h('span', { class: 'mapping-name' }, title), ' ',
        badge(mapping.enabled === false ? { tone: 'idle', icon: '■', label: 'Disabled' } : { tone: 'ok', icon: '✔', label: 'Enabled' }),
        h('span', { class: 'muted small' }, ` ${(mapping.attributeMappings || []).length} attributes`)),
      h('div', { class: 'mapping-head' },
        h('div', { class: 'check' }, enabled, h('label', { for: `${key}-enabled` }, 'Mapping enabled')),
        h('fieldset', { class: 'inline-check' }, h('legend', {}, 'Target object actions'),
          actionBoxes.map(({ box, label }) => h('span', { class: 'check' }, box, h('label', { for: box.id }, label))))),
      ...lists,
      h('h4', {}, 'Attribute mappings'),
      h('ul', { class: 'am-list', 'aria-label': `Attribute mappings of ${title}` },
        h('li', { class: 'am-row am-header', 'aria-hidden': 'true' }, h('div', { class: 'am-fields' },
          h('span', { class: 'am-cell am-src' }, 'Source expression'), h('span', { class: 'am-cell am-tgt' }, 'Target attribute'),
          h('span', { class: 'am-cell' }, 'Apply'), h('span', { class: 'am-cell am-num' }, 'Match'),
          h('span', { class: 'am-cell' }, 'Default'), h('span', { class: 'am-cell am-buttons' }, ''))),
        rows),
      h('div', { class: 'actions' }, add),
      scopeEditor(mapping, key, sourceNames, redraw));
    return details;
  }

  function scopeEditor(mapping, key, sourceNames, redraw) {
    const groups = mapping.scope?.groups || [];
    const ensure = () => {
      mapping.scope = mapping.scope || {};
      mapping.scope.groups = mapping.scope.groups || [];
      return mapping.scope.groups;
    };
    const addGroup = h('button', { type: 'button', class: 'button', id: `${key}-addgroup` }, '+ Add clause group');
    addGroup.addEventListener('click', () => {
      ensure().push({ clauses: [{ sourceOperandName: sourceNames[0] || '', operatorName: 'EQUALS', targetOperand: { values: [''] } }] });
      changed();
      redraw(`#${CSS.escape(`${key}-g${ensure().length - 1}-c0-attr`)}`);
    });
    return h('div', { class: 'scope' },
      h('h4', {}, 'Scoping filter'),
      h('p', { class: 'muted small' }, groups.length
        ? 'An object is in scope when any group holds; a group holds when all of its clauses do.'
        : 'No scoping filter: every object in the assignment scope is provisioned.'),
      groups.map((group, g) => {
        const clauses = group.clauses || [];
        const removeGroup = h('button', { type: 'button', class: 'button subtle small-button' }, 'Remove group');
        removeGroup.addEventListener('click', () => {
          groups.splice(g, 1);
          if (!groups.length) mapping.scope = null;
          changed();
          redraw(`#${CSS.escape(`${key}-addgroup`)}`);
        });
        const addClause = h('button', { type: 'button', class: 'button small-button', id: `${key}-g${g}-add` }, '+ Add clause');
        addClause.addEventListener('click', () => {
          group.clauses = clauses;
          clauses.push({ sourceOperandName: sourceNames[0] || '', operatorName: 'EQUALS', targetOperand: { values: [''] } });
          changed();
          redraw(`#${CSS.escape(`${key}-g${g}-c${clauses.length - 1}-attr`)}`);
        });
        return h('fieldset', { class: 'clause-group' },
          h('legend', {}, `Group ${g + 1}${g ? ' (or)' : ''}: all clauses must hold`),
          h('ul', { class: 'clauses' }, clauses.map((clause, c) => clauseRow(clause, `${key}-g${g}-c${c}`, () => {
            clauses.splice(c, 1);
            changed();
            redraw(`#${CSS.escape(`${key}-g${g}-add`)}`);
          }, `${key}-sources`))),
          h('div', { class: 'actions' }, addClause, removeGroup));
      }),
      h('div', { class: 'actions' }, addGroup));
  }

  function clauseRow(clause, id, onRemove, sourceList) {
    const attr = h('input', { id: `${id}-attr`, class: 'mono', value: clause.sourceOperandName || '', list: sourceList,
      spellcheck: 'false', autocomplete: 'off' });
    attr.addEventListener('input', () => { clause.sourceOperandName = attr.value.trim(); changed(); });
    const names = operators.map((op) => op.name);
    const op = h('select', { id: `${id}-op` },
      (names.includes(clause.operatorName) ? names : [clause.operatorName, ...names]).map((name) => h('option', { value: name, selected: name === clause.operatorName }, name)));
    const values = h('textarea', { id: `${id}-values`, rows: Math.max(1, (clause.targetOperand?.values || []).length), spellcheck: 'false' },
      (clause.targetOperand?.values || []).join('\n'));
    const valuesCell = h('div', { class: 'am-cell grow' }, h('label', { for: values.id, class: 'am-label-visible' }, 'Values (one a line)'), values);
    const unary = () => (operators.find((o) => o.name === op.value)?.arity || 'Binary') === 'Unary';
    const sync = () => { valuesCell.hidden = unary(); };
    op.addEventListener('change', () => {
      clause.operatorName = op.value;
      if (unary()) delete clause.targetOperand;
      else clause.targetOperand = { values: values.value.split('\n').filter((v, i, all) => v !== '' || all.length === 1) };
      sync();
      changed();
    });
    values.addEventListener('input', () => {
      clause.targetOperand = { values: values.value.split('\n') };
      changed();
    });
    sync();
    const remove = h('button', { type: 'button', class: 'button subtle small-button', 'aria-label': `Remove the clause on ${clause.sourceOperandName || 'an attribute'}` }, 'Remove');
    remove.addEventListener('click', onRemove);
    return h('li', { class: 'clause' },
      h('div', { class: 'am-cell' }, h('label', { for: attr.id, class: 'am-label-visible' }, 'Attribute'), attr),
      h('div', { class: 'am-cell' }, h('label', { for: op.id, class: 'am-label-visible' }, 'Operator'), op),
      valuesCell,
      h('div', { class: 'am-cell am-buttons' }, remove));
  }

  function expressionTester(am, exprInput, id) {
    const values = h('textarea', { id: `${id}-test-values`, rows: 3, spellcheck: 'false',
      placeholder: 'givenName=Alice' }, expressionAttributes(exprInput.value).map((name) => `${name}=`).join('\n'));
    const output = h('div', { class: 'test-output', 'aria-live': 'polite' });
    const run = h('button', { type: 'button', class: 'button primary small-button' }, 'Run test');
    const fill = picker({
      id: `${id}-test-user`, label: 'Fill from a user (optional)',
      hint: 'Takes the values the expression reads from this user in the directory.',
      async onPick(item) {
        if (!item) return;
        try {
          const user = await graph(path('user', { user: item.id }));
          const names = expressionAttributes(exprInput.value);
          const known = testProperties(values.value).filter((p) => !names.includes(p.key));
          values.value = [...names.map((name) => `${name}=${scalar(user[name])}`), ...known.map((p) => `${p.key}=${p.value}`)].join('\n');
        } catch (error) {
          if (error.status !== 401) replace(output, errorBox(error, 'read the user'));
        }
      },
    });
    run.addEventListener('click', async () => {
      run.disabled = true;
      replace(output, loading('Evaluating…'));
      try {
        const answer = await graph(path('parseExpression', ids), { method: 'POST', body: {
          expression: exprInput.value, testInputObject: { properties: testProperties(values.value) } } });
        replace(output, testResult(answer));
      } catch (error) {
        if (error.status !== 401) replace(output, errorBox(error, 'test the expression'));
      } finally {
        run.disabled = false;
      }
    });
    return h('div', { class: 'tester-body' },
      h('p', { class: 'tester-title' }, `Test the expression of ${am.targetAttributeName || 'this mapping'}`),
      h('div', { class: 'tester-grid' },
        h('div', { class: 'field' }, h('label', { for: values.id }, 'Test values (attribute=value, one a line)'), values),
        fill.node),
      h('div', { class: 'actions' }, run),
      output);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    save.disabled = true;
    replace(status, h('p', { role: 'status' }, 'Checking the expressions…'));
    try {
      const body = structuredClone(draft);
      // Parse every changed expression first: the answer is the stored form of its source.
      const pending = [];
      (draft.synchronizationRules || []).forEach((rule, r) => (rule.objectMappings || []).forEach((mapping, m) =>
        (mapping.attributeMappings || []).forEach((am, a) => {
          if (!texts.has(am) || texts.get(am) === expressionText(am.source)) return;
          pending.push({ r, m, a, text: texts.get(am).trim() });
        })));
      for (const item of pending) {
        const target = body.synchronizationRules[item.r].objectMappings[item.m].attributeMappings[item.a];
        if (!item.text) { target.source = null; continue; }
        const answer = await graph(path('parseExpression', ids), { method: 'POST', body: { expression: item.text } });
        if (!answer?.parsingSucceeded) {
          const input = document.getElementById(`r${item.r}m${item.m}-a${item.a}-src`);
          input?.setAttribute('aria-invalid', 'true');
          input?.closest('details')?.setAttribute('open', '');
          input?.focus();
          throw Object.assign(new Error(`The expression of ${target.targetAttributeName || 'a new mapping'} does not parse: ${answer?.error?.message || 'invalid'}`),
            { code: 'InvalidExpression' });
        }
        target.source = answer.parsedExpression;
      }
      replace(status, h('p', { role: 'status' }, 'Saving…'));
      await graph(path('schema', ids), { method: 'PUT', body });
      schema = await graph(path('schema', ids));
      reset();
      toast('Mappings saved');
      replace(status, done('Saved. The next cycle is an initial cycle over every object.'));
      save.focus();
    } catch (error) {
      if (error.status !== 401) replace(status, errorBox(error, 'save the mappings'));
      save.disabled = !dirty;
    }
  });

  load();
  return { schema: () => schema };
}

function testResult(answer) {
  if (!answer?.parsingSucceeded) {
    return h('div', { class: 'inline-error' }, h('p', {}, h('span', { 'aria-hidden': 'true' }, '✖ '), h('strong', {}, 'Does not parse'), ': ',
      answer?.error?.message || ''));
  }
  if (!answer.evaluationSucceeded) {
    return h('div', { class: 'inline-error' }, h('p', {}, h('span', { 'aria-hidden': 'true' }, '✖ '), h('strong', {}, 'Evaluation failed'), ': ',
      answer.error?.message || ''));
  }
  const result = answer.evaluationResult || [];
  return h('div', { class: 'test-ok' },
    h('p', {}, badge({ tone: 'ok', icon: '✔', label: 'Result' }), ' ',
      result.length ? result.map((value, i) => [i ? ', ' : '', h('code', { class: 'result-value' }, value)]) : h('span', { class: 'muted' }, '(no value: the attribute is not written)')));
}

function scalar(value) {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(scalar).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
