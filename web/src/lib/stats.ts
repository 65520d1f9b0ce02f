// Dashboard aggregates, computed in the browser from recent execution records.
import { FAILURE_STATUSES, type Execution, type ExecutionStatus } from '@/api/types';
import { lagMs, parseTime } from './format';

/** Nearest-rank percentile (p in 0..100) of `values`; null for an empty list. */
export function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** When a run "happened" for bucketing: its start, else its scheduled instant. */
export function runInstant(e: Execution): number | null {
  return parseTime(e.start_time) ?? parseTime(e.scheduled_time);
}

export interface MinuteBuckets {
  /** Start of each minute (ms), oldest first. */
  minutes: number[];
  /** Count per status per minute, aligned with `minutes`. */
  counts: Partial<Record<ExecutionStatus, number[]>>;
}

/** Runs per minute by status over the `span` minutes that end with the minute containing `nowMs`. */
export function runsPerMinute(execs: readonly Execution[], nowMs: number, span = 30): MinuteBuckets {
  const end = Math.floor(nowMs / 60_000) * 60_000;
  const first = end - (span - 1) * 60_000;
  const minutes = Array.from({ length: span }, (_, i) => first + i * 60_000);
  const counts: Partial<Record<ExecutionStatus, number[]>> = {};
  for (const e of execs) {
    const t = runInstant(e);
    if (t === null || t < first || t >= end + 60_000) continue;
    const i = Math.floor((t - first) / 60_000);
    const row = (counts[e.status] ??= new Array<number>(span).fill(0));
    row[i] = (row[i] ?? 0) + 1;
  }
  return { minutes, counts };
}

/** Schedule lags (start − scheduled, ms) of scheduled (not manual) runs that started in the window. */
export function scheduleLags(execs: readonly Execution[], sinceMs: number): number[] {
  const out: number[] = [];
  for (const e of execs) {
    if (e.trigger === 'manual') continue;
    const l = lagMs(e.scheduled_time, e.start_time);
    const t = parseTime(e.start_time);
    if (l === null || t === null || t < sinceMs) continue;
    out.push(Math.max(0, l));
  }
  return out;
}

export interface JobFailures {
  job: string;
  failed: number;
  missed: number;
  total: number;
  lastFailure: number | null;
}

/**
 * Failure counts per job since `sinceMs`, worst first (failed + missed, then most recent).
 * Failures are the FAILURE_STATUSES; "missed" is also counted on its own.
 */
export function failuresByJob(execs: readonly Execution[], sinceMs: number): JobFailures[] {
  const by = new Map<string, JobFailures>();
  for (const e of execs) {
    const t = runInstant(e);
    if (t === null || t < sinceMs) continue;
    let row = by.get(e.job_name);
    if (!row) {
      row = { job: e.job_name, failed: 0, missed: 0, total: 0, lastFailure: null };
      by.set(e.job_name, row);
    }
    row.total++;
    if (e.status === 'missed') row.missed++;
    else if (FAILURE_STATUSES.includes(e.status)) row.failed++;
    if (FAILURE_STATUSES.includes(e.status)) row.lastFailure = Math.max(row.lastFailure ?? 0, t);
  }
  return [...by.values()]
    .filter((r) => r.failed + r.missed > 0)
    .sort((a, b) => b.failed + b.missed - (a.failed + a.missed) || (b.lastFailure ?? 0) - (a.lastFailure ?? 0));
}

/** Number of failed/timed-out/killed/missed runs since `sinceMs`. */
export function countFailures(execs: readonly Execution[], sinceMs: number): number {
  let n = 0;
  for (const e of execs) {
    const t = runInstant(e);
    if (t !== null && t >= sinceMs && FAILURE_STATUSES.includes(e.status)) n++;
  }
  return n;
}
