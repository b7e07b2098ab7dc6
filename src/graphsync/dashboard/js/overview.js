// Overview: every synchronization job of the tenant, searchable, filterable by state and paged,
// so that hundreds of jobs stay usable. The jobs on the page refresh every few seconds; the
// whole list (service principals and their jobs) is read again every RELIST_EVERY refreshes.
import { countOf, graph, listAll, path, pool } from './api.js';
import { empty, errorBox, h, loading, replace } from './dom.js';
import { JOB_CATEGORIES, count, isInbound, jobCategory, jobMatches, logFilter } from './format.js';
import { entryCounts, failuresToDate, lastExecution, progress, quarantine, runningBadge, stateBadges } from './jobstatus.js';

const RELIST_EVERY = 6;      // refreshes between re-reading every job (the page's jobs refresh each time)
const PAGE_SIZES = ['12', '24', '48', '96'];
const PARALLEL = 6;

export function jobLink(sp, job) {
  return `#/job/${encodeURIComponent(sp.id)}/${encodeURIComponent(job.id)}`;
}

export function overviewView(root, { query = {} } = {}) {
  const state = {
    q: query.q || '',
    show: JOB_CATEGORIES.some(([value]) => value === query.show) ? query.show : '',
    size: PAGE_SIZES.includes(query.size) ? query.size : '24',
    page: Math.max(1, Number.parseInt(query.page, 10) || 1),
  };
  const search = h('input', { id: 'job-search', type: 'search', value: state.q, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Application name, app id, job id or template' });
  const show = h('select', { id: 'job-show' },
    JOB_CATEGORIES.map(([value, label]) => h('option', { value, selected: value === state.show }, label)));
  const size = h('select', { id: 'job-size' }, PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.size }, n)));
  const toolbar = h('form', { class: 'card toolbar', role: 'search', 'aria-label': 'Find jobs' },
    h('div', { class: 'field grow' }, h('label', { for: 'job-search' }, 'Search'), search),
    h('div', { class: 'field' }, h('label', { for: 'job-show' }, 'Show'), show),
    h('div', { class: 'field' }, h('label', { for: 'job-size' }, 'Per page'), size));
  const tally = h('ul', { class: 'tally', 'aria-label': 'Jobs by state' });
  const summary = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'job-grid' });
  const pagerTop = h('nav', { class: 'pager', 'aria-label': 'Pages of jobs (top)' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of jobs' });
  replace(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Provisioning jobs'), summary),
    toolbar, tally, pagerTop, list, pager);
  replace(list, loading('Loading service principals and their jobs…'));

  let rows = null;          // [{sp, job}] sorted by name, or [{sp, error}]
  let principals = 0;
  let refreshes = 0;
  let destroyed = false;
  const failures = new Map(); // job id → failed log entries to date (or an error)
  const cards = new Map();    // row key → {card, body, counts, fail}

  toolbar.addEventListener('submit', (event) => { event.preventDefault(); apply(); });
  let typing = null;
  search.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(() => { state.page = 1; apply(); }, 200); });
  show.addEventListener('change', () => { state.page = 1; apply(); });
  size.addEventListener('change', () => { state.page = 1; apply(); });

  function apply() {
    state.q = search.value;
    state.show = show.value;
    state.size = size.value;
    const params = new URLSearchParams(Object.entries(state).filter(([key, value]) => value && !(key === 'page' && value === 1) && !(key === 'size' && value === '24')));
    history.replaceState(null, '', params.toString() ? `#/?${params}` : '#/');
    render();
    loadFailures();
  }

  async function loadAll() {
    const sps = await listAll(`${path('servicePrincipals')}?$top=999&$select=id,displayName,appId,appDisplayName`, { limit: 20000 });
    const found = await pool(sps, PARALLEL, async (sp) => {
      try {
        return { sp, jobs: await listAll(`${path('jobs', { sp: sp.id })}?$top=999`, { limit: 5000 }) };
      } catch (error) {
        if (error.status === 404) return { sp, jobs: [] };  // deleted meanwhile
        return { sp, jobs: [], error };
      }
    });
    principals = sps.length;
    const next = [];
    for (const { sp, jobs, error } of found) {
      if (error) next.push({ key: `error:${sp.id}`, sp, error });
      for (const job of jobs) next.push({ key: `${sp.id}/${job.id}`, sp, job });
    }
    const name = (row) => (row.sp.displayName || row.sp.appDisplayName || row.sp.id).toLowerCase();
    next.sort((a, b) => name(a).localeCompare(name(b)) || String(a.job?.id).localeCompare(String(b.job?.id)));
    rows = next;
  }

  function selected(now = new Date()) {
    return rows.filter((row) => row.error
      ? !state.show && jobMatches({ sp: row.sp, job: {} }, state.q)
      : (!state.show || jobCategory(row.job, now) === state.show) && jobMatches(row, state.q));
  }

  function pageOf(chosen) {
    const per = Number(state.size);
    const pages = Math.max(1, Math.ceil(chosen.length / per));
    state.page = Math.min(state.page, pages);
    const start = (state.page - 1) * per;
    return { pages, start, items: chosen.slice(start, start + per) };
  }

  function renderTally(now) {
    const counts = Object.fromEntries(JOB_CATEGORIES.map(([value]) => [value, 0]));
    for (const row of rows) if (row.job) counts[jobCategory(row.job, now)] += 1;
    const jobs = rows.filter((row) => row.job).length;
    const tiles = [['', `${count(jobs)}`, jobs === 1 ? 'job' : 'jobs', 'info'],
      ['running', count(counts.running), 'running now', 'busy'],
      ['quarantine', count(counts.quarantine), 'in quarantine', counts.quarantine ? 'bad' : 'idle'],
      ['failing', count(counts.failing), 'with errors', counts.failing ? 'warn' : 'idle'],
      ['notStarted', count(counts.notStarted), 'not started', 'idle']];
    replace(tally, tiles.map(([value, number, label, tone]) => h('li', {},
      h('button', { type: 'button', class: `tile tone-${tone}`, 'aria-pressed': String(state.show === value),
        onclick: () => { show.value = value; state.page = 1; apply(); } },
      h('span', { class: 'tile-value' }, number), ' ', h('span', { class: 'tile-label' }, label)))));
  }

  function renderPager(pages, start, shown, total) {
    for (const nav of [pagerTop, pager]) {
      if (total <= Number(state.size)) { replace(nav); continue; }
      const go = (page) => () => { state.page = page; apply(); (nav === pager ? pagerTop : nav).scrollIntoView?.({ block: 'nearest' }); };
      replace(nav,
        h('button', { type: 'button', class: 'button', disabled: state.page <= 1, onclick: go(state.page - 1) },
          h('span', { 'aria-hidden': 'true' }, '‹ '), 'Previous'),
        h('span', { class: 'pager-text' }, `Page ${state.page} of ${pages} · jobs ${count(start + 1)}–${count(start + shown)} of ${count(total)}`),
        h('button', { type: 'button', class: 'button', disabled: state.page >= pages, onclick: go(state.page + 1) },
          'Next', h('span', { 'aria-hidden': 'true' }, ' ›')));
    }
  }

  function render() {
    if (destroyed || !rows) return;
    const now = new Date();
    const jobCount = rows.filter((row) => row.job).length;
    renderTally(now);
    if (!rows.length) {
      summary.textContent = '';
      cards.clear();
      replace(pagerTop); replace(pager);
      replace(list, empty('No synchronization jobs yet',
        principals
          ? 'None of this tenant\'s service principals has a job. Create one with POST /servicePrincipals/{id}/synchronization/jobs ({"templateId": "scim"}).'
          : 'This tenant has no service principals. Instantiate an application template first (POST /applicationTemplates/{id}/instantiate).'));
      return;
    }
    const chosen = selected(now);
    const { pages, start, items } = pageOf(chosen);
    summary.textContent = `${count(chosen.length)} of ${count(jobCount)} job${jobCount === 1 ? '' : 's'} · ${count(principals)} service principal${principals === 1 ? '' : 's'} · updated ${now.toLocaleTimeString()}`;
    renderPager(pages, start, items.length, chosen.length);
    if (!items.length) {
      cards.clear();
      replace(list, empty('No job matches', 'Try other words, or show all jobs.'));
      return;
    }
    const wanted = new Set();
    const ordered = items.map((row) => {
      wanted.add(row.key);
      let entry = cards.get(row.key);
      if (!entry) {
        entry = row.error ? errorCard(row) : jobCard(row);
        cards.set(row.key, entry);
      }
      if (row.job) {
        // Only what holds nothing focusable is redrawn: focus and an opened <details> survive.
        replace(entry.body, stateBadges(row.job), runningBadge(row.job, now), progress(row.job), quarantine(row.job),
          lastExecution(row.job));
        replace(entry.counts, entryCounts(row.job));
        replace(entry.fail, failuresToDate(failures.get(row.job.id), failLink(row.job), isInbound(row.job)));
      }
      return entry.card;
    });
    for (const key of [...cards.keys()]) if (!wanted.has(key)) cards.delete(key);
    if (ordered.length !== list.children.length || ordered.some((card, i) => list.children[i] !== card)) {
      replace(list, ordered);
    }
  }

  function failLink(job) {
    return `#/logs?${new URLSearchParams({ jobId: job.id, status: 'failure' })}`;
  }

  function jobCard(row) {
    const { sp, job } = row;
    const id = `t-${cssId(row.key)}`;
    const body = h('div', { class: 'job-body' });
    const counts = h('div');
    const fail = h('div', { class: 'to-date' });
    const card = h('article', { class: 'card job-card', 'aria-labelledby': id },
      h('header', { class: 'job-card-head' },
        h('h2', { id }, h('a', { href: jobLink(sp, job) }, sp.displayName || sp.appDisplayName || sp.id)),
        h('p', { class: 'muted small mono' }, isInbound(job) ? `${job.templateId} · API-driven inbound` : job.templateId)),
      body, fail,
      h('details', { class: 'counts' }, h('summary', {}, 'Objects by type'), counts));
    return { card, body, counts, fail };
  }

  function errorCard(row) {
    const card = h('article', { class: 'card job-card' }, h('h2', {}, row.sp.displayName || row.sp.id),
      errorBox(row.error, 'load the jobs'));
    return { card };
  }

  /** Failed log entries to date of the jobs on the page (one $count query each, not every tick). */
  async function loadFailures(force = false) {
    if (!rows) return;
    const { items } = pageOf(selected());
    const todo = items.filter((row) => row.job && (force || !failures.has(row.job.id)));
    await pool(todo, PARALLEL, async (row) => {
      try {
        const filter = logFilter({ jobId: row.job.id, status: 'failure' });
        failures.set(row.job.id, await countOf(`${path('logs')}?${new URLSearchParams({ $filter: filter })}`));
      } catch (error) {
        if (error.status !== 401) failures.set(row.job.id, error);
      }
    });
    render();
  }

  async function refreshPage() {
    const { items } = pageOf(selected());
    await pool(items.filter((row) => row.job), PARALLEL, async (row) => {
      try {
        row.job = await graph(path('job', { sp: row.sp.id, job: row.job.id }));
      } catch (error) {
        if (error.status === 404) rows = rows.filter((other) => other !== row);  // deleted meanwhile
      }
    });
  }

  async function refresh() {
    try {
      const full = !rows || refreshes % RELIST_EVERY === 0;
      refreshes += 1;
      if (full) await loadAll();
      else await refreshPage();
      if (destroyed) return;
      render();
      if (full) loadFailures(true);
    } catch (error) {
      if (destroyed || error.status === 401) return;
      cards.clear();
      replace(list, errorBox(error, 'load the jobs'));
    }
  }

  refresh();
  return { refresh, destroy() { destroyed = true; } };
}

function cssId(text) {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}
