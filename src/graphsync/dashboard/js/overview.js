// Overview: every service principal of the tenant that has synchronization jobs, one card a job.
import { graph, listAll, path, pool } from './api.js';
import { empty, errorBox, h, loading, replace } from './dom.js';
import { entryCounts, lastExecution, progress, quarantine, stateBadges } from './jobstatus.js';
import { isInbound } from './format.js';

const RELIST_EVERY = 12;  // refreshes between re-listing service principals (jobs refresh every time)

export function jobLink(sp, job) {
  return `#/job/${encodeURIComponent(sp.id)}/${encodeURIComponent(job.id)}`;
}

export function overviewView(root) {
  const list = h('div', { class: 'job-grid', 'aria-live': 'off' });
  const summary = h('p', { class: 'muted', role: 'status' });
  replace(root,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Provisioning jobs'),
      summary),
    list);
  replace(list, loading('Loading service principals and their jobs…'));

  let principals = null;   // service principals, re-listed now and then
  let withJobs = [];       // [{sp, jobs, error}]
  let refreshes = 0;
  let destroyed = false;
  const cards = new Map(); // job key → {card, body}

  async function load() {
    if (!principals || refreshes % RELIST_EVERY === 0) {
      principals = await listAll(`${path('servicePrincipals')}?$top=100`);
    }
    refreshes += 1;
    const results = await pool(principals, 6, async (sp) => {
      try {
        const page = await graph(`${path('jobs', { sp: sp.id })}?$top=100`);
        return { sp, jobs: page?.value || [] };
      } catch (error) {
        if (error.status === 404) return { sp, jobs: [] };  // deleted meanwhile
        return { sp, jobs: [], error };
      }
    });
    withJobs = results.filter((r) => r.jobs.length || r.error);
  }

  function render() {
    if (destroyed) return;
    const jobCount = withJobs.reduce((n, r) => n + r.jobs.length, 0);
    summary.textContent = `${jobCount} job${jobCount === 1 ? '' : 's'} in ${withJobs.length} of ${principals.length} service principal${principals.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}`;
    if (!withJobs.length) {
      cards.clear();
      replace(list, empty('No synchronization jobs yet',
        principals.length
          ? 'None of this tenant\'s service principals has a job. Create one with POST /servicePrincipals/{id}/synchronization/jobs ({"templateId": "scim"}).'
          : 'This tenant has no service principals. Instantiate an application template first (POST /applicationTemplates/{id}/instantiate).'));
      return;
    }
    const wanted = [];
    for (const { sp, jobs, error } of withJobs) {
      if (error) {
        wanted.push(`error:${sp.id}`);
        if (!cards.has(`error:${sp.id}`)) {
          const card = h('article', { class: 'card job-card' }, h('h2', {}, sp.displayName || sp.id), errorBox(error, 'load the jobs'));
          cards.set(`error:${sp.id}`, { card, body: null });
        }
        continue;
      }
      for (const job of jobs) {
        const key = `${sp.id}/${job.id}`;
        wanted.push(key);
        let entry = cards.get(key);
        if (!entry) {
          const body = h('div', { class: 'job-body' });
          const counts = h('div');
          const card = h('article', { class: 'card job-card', 'aria-labelledby': `t-${cssId(key)}` },
            h('header', { class: 'job-card-head' },
              h('h2', { id: `t-${cssId(key)}` }, h('a', { href: jobLink(sp, job) }, sp.displayName || sp.appDisplayName || sp.id)),
              h('p', { class: 'muted small mono' }, isInbound(job) ? `${job.templateId} · API-driven inbound` : job.templateId)),
            body,
            h('details', { class: 'counts' }, h('summary', {}, 'Objects by type'), counts));
          entry = { card, body, counts };
          cards.set(key, entry);
        }
        // Only what holds nothing focusable is redrawn: focus and an opened <details> survive.
        replace(entry.body, stateBadges(job), progress(job), quarantine(job), lastExecution(job));
        replace(entry.counts, entryCounts(job));
      }
    }
    for (const key of [...cards.keys()]) if (!wanted.includes(key)) cards.delete(key);
    const ordered = wanted.map((key) => cards.get(key).card);
    if (ordered.length !== list.children.length || ordered.some((card, i) => list.children[i] !== card)) {
      replace(list, ordered);
    }
  }

  async function refresh() {
    try {
      await load();
      render();
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
