// A job page's history list as it lives in the URL (`/jobs/<name>?status=&size=&cursor=`): the
// server filters by status and pages by cursor, newest first.
import type { LocationQuery } from 'vue-router';
import { EXECUTION_STATUSES, type ExecutionStatus } from '@/api/types';
import { queryChoice, queryString } from './routeQuery';

export const HISTORY_PAGE_SIZES = [10, 20, 50, 100] as const;
export const DEFAULT_HISTORY_PAGE_SIZE = 20;

export interface HistoryListState {
  status: ExecutionStatus | '';
  size: number;
  /** Cursor of the page shown ('' = the newest runs). */
  cursor: string;
}

export function parseHistoryQuery(q: LocationQuery): HistoryListState {
  return {
    status: queryChoice<ExecutionStatus | ''>(q, 'status', EXECUTION_STATUSES, ''),
    size: queryChoice<number>(q, 'size', HISTORY_PAGE_SIZES, DEFAULT_HISTORY_PAGE_SIZE),
    cursor: queryString(q, 'cursor'),
  };
}

/** The route query for `s`, without defaults. */
export function historyRouteQuery(s: HistoryListState): Record<string, string> {
  const q: Record<string, string> = {};
  if (s.status) q.status = s.status;
  if (s.size !== DEFAULT_HISTORY_PAGE_SIZE) q.size = String(s.size);
  if (s.cursor) q.cursor = s.cursor;
  return q;
}

/** Identity of the exact page asked for: an answer for another key is stale. */
export function historyKey(s: HistoryListState): string {
  return JSON.stringify([s.status, s.size, s.cursor]);
}
