// The jobs list's state as it lives in the URL (`/jobs?prefix=&label=k=v&status=&size=&cursor=`):
// every filter is the server's (GET /jobs/ pages by cursor in name order, filtered on the
// server), so the browser never holds more than the page it shows.
import type { LocationQuery } from 'vue-router';
import type { JobsFilter, JobState } from '@/api/types';
import { queryChoice, queryString, queryStrings } from './routeQuery';

export const JOB_STATES: ReadonlyArray<{ value: JobState | ''; label: string }> = [
  { value: '', label: 'Any state' },
  { value: 'active', label: 'Active (not paused)' },
  { value: 'paused', label: 'Paused' },
  { value: 'failing', label: 'Failing (last run failed, timed out or missed)' },
];
export const PAGE_SIZES = [50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 50;

export interface JobsListState {
  /** Name prefix ('' = any). */
  prefix: string;
  /** Label selector, each "key=value"; all must hold. */
  labels: string[];
  status: JobState | '';
  size: number;
  /** Cursor of the page shown ('' = first page). */
  cursor: string;
}

/** The state in a route's query; unknown or malformed values fall back to the defaults. */
export function parseJobsQuery(q: LocationQuery): JobsListState {
  return {
    prefix: queryString(q, 'prefix'),
    labels: queryStrings(q, 'label').filter((l) => l.indexOf('=') > 0),
    status: queryChoice(q, 'status', JOB_STATES.map((s) => s.value), ''),
    size: queryChoice<number>(q, 'size', PAGE_SIZES, DEFAULT_PAGE_SIZE),
    cursor: queryString(q, 'cursor'),
  };
}

/** The route query for `s`, without defaults (so the plain list is plain `/jobs`). */
export function jobsRouteQuery(s: JobsListState): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  if (s.prefix) q.prefix = s.prefix;
  if (s.labels.length) q.label = s.labels.slice();
  if (s.status) q.status = s.status;
  if (s.size !== DEFAULT_PAGE_SIZE) q.size = String(s.size);
  if (s.cursor) q.cursor = s.cursor;
  return q;
}

/** What GET /jobs/ is asked for (the page itself: limit + cursor come with it). */
export function jobsApiFilter(s: JobsListState): JobsFilter {
  return { prefix: s.prefix, labels: s.labels, status: s.status };
}

/** Identity of the filter and page size: when it changes, paging starts over. */
export function filterKey(s: JobsListState): string {
  return JSON.stringify([s.prefix, s.labels, s.status, s.size]);
}

/** Identity of the exact page asked for: an answer for another key is stale. */
export function pageKey(s: JobsListState): string {
  return JSON.stringify([s.prefix, s.labels, s.status, s.size, s.cursor]);
}

/**
 * Parses the label input "team=ops, tier=1" into ["team=ops", "tier=1"]. Every part needs a key
 * and '=' (the server matches labels by value); `error` names the first part that has not.
 */
export function parseLabelSelector(text: string): { labels: string[]; error: string | null } {
  const labels: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const i = part.indexOf('=');
    if (i <= 0) return { labels: [], error: `"${part}" is not key=value` };
    labels.push(`${part.slice(0, i).trim()}=${part.slice(i + 1).trim()}`);
  }
  return { labels, error: null };
}

/** The label input's text for a selector. */
export function formatLabelSelector(labels: readonly string[]): string {
  return labels.join(', ');
}
