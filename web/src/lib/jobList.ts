// Filtering, sorting and paging of the jobs table, written for 10,000+ rows: one pass per
// filter, a precomputed sort key, and only one page is ever rendered.
import type { ExecutionStatus, Job } from '@/api/types';
import { parseTime, runDurationMs } from './format';

export type StatusFilter = '' | 'active' | 'paused' | 'never' | ExecutionStatus;

export interface JobFilter {
  text: string;
  status: StatusFilter;
  /** "key" (has the label) or "key=value". */
  label: string;
}

export type SortKey = 'name' | 'schedule' | 'policy' | 'next_run' | 'last_status' | 'last_run' | 'duration';
export type SortDir = 'asc' | 'desc';

/** Parses "team=ops, tier" into [["team","ops"],["tier",null]]. */
export function parseLabelFilter(s: string): Array<[string, string | null]> {
  return s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [p, null] : [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    });
}

// Lower-cased searchable text per job object; a poll replaces the objects, so entries die with them.
const hayCache = new WeakMap<Job, string>();
function haystack(j: Job): string {
  let h = hayCache.get(j);
  if (h === undefined) {
    h = `${j.name}\n${j.description ?? ''}\n${j.cron_expr}\n${j.executor?.command ?? ''}\n${j.executor?.url ?? ''}`.toLowerCase();
    hayCache.set(j, h);
  }
  return h;
}

export function filterJobs(jobs: readonly Job[], f: JobFilter): Job[] {
  const text = f.text.trim().toLowerCase();
  const labels = parseLabelFilter(f.label);
  if (!text && !f.status && !labels.length) return jobs.slice();
  return jobs.filter((j) => {
    if (text) {
      if (!haystack(j).includes(text)) return false;
    }
    if (f.status) {
      if (f.status === 'paused') {
        if (!j.paused) return false;
      } else if (f.status === 'active') {
        if (j.paused) return false;
      } else if (f.status === 'never') {
        if (j.last_execution) return false;
      } else if (j.last_execution?.status !== f.status) return false;
    }
    for (const [k, v] of labels) {
      const have = j.labels?.[k];
      if (have === undefined) return false;
      if (v !== null && have !== v) return false;
    }
    return true;
  });
}

const STATUS_ORDER: Record<string, number> = {
  failed: 0,
  timeout: 1,
  killed: 2,
  missed: 3,
  running: 4,
  scheduled: 5,
  skipped: 6,
  success: 7,
};

function sortValue(j: Job, key: SortKey): string | number {
  switch (key) {
    case 'name':
      return j.name.toLowerCase();
    case 'schedule':
      return j.cron_expr;
    case 'policy':
      return j.concurrency_policy ?? 'Allow';
    case 'next_run':
      // Paused jobs and jobs without a next run sort last.
      return j.paused ? Number.MAX_SAFE_INTEGER : (parseTime(j.next_run) ?? Number.MAX_SAFE_INTEGER - 1);
    case 'last_status':
      return j.last_execution ? (STATUS_ORDER[j.last_execution.status] ?? 8) : 9;
    case 'last_run':
      return parseTime(j.last_execution?.start_time ?? j.last_execution?.scheduled_time) ?? 0;
    case 'duration':
      return j.last_execution ? (runDurationMs(j.last_execution) ?? -1) : -1;
  }
}

/** A stable sort on `key`, ties broken by name. Does not modify `jobs`. */
export function sortJobs(jobs: readonly Job[], key: SortKey, dir: SortDir): Job[] {
  const sign = dir === 'asc' ? 1 : -1;
  const keyed = jobs.map((j) => ({ j, k: sortValue(j, key), n: j.name }));
  keyed.sort((a, b) => {
    if (a.k < b.k) return -sign;
    if (a.k > b.k) return sign;
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
  });
  return keyed.map((x) => x.j);
}

export interface Page<T> {
  items: T[];
  page: number;
  pages: number;
  total: number;
  from: number;
  to: number;
}

/** One 1-based page of `all`; an out-of-range page is clamped. */
export function paginate<T>(all: readonly T[], page: number, size: number): Page<T> {
  const total = all.length;
  const pages = Math.max(1, Math.ceil(total / size));
  const p = Math.min(Math.max(1, Math.floor(page) || 1), pages);
  const start = (p - 1) * size;
  const items = all.slice(start, start + size);
  return { items, page: p, pages, total, from: total ? start + 1 : 0, to: start + items.length };
}
