// The dashboard's reading of `GET /stats`: the server aggregates (runs per minute by outcome,
// lag percentiles, failing and missed jobs, worker load) from the counters the leader and workers
// keep, so one request per refresh serves any number of jobs. This file only checks the shape
// and turns it into what the page draws.
import type { LocationQuery } from 'vue-router';
import { STAT_OUTCOMES, type StatCounts, type StatOutcome, type Stats } from '@/api/types';
import { parseTime } from './format';
import { queryChoice } from './routeQuery';
import { STATUS_COLORS } from './status';

/** The windows the dashboard offers (the server takes 1m..24h); the first is the default. */
export const STATS_WINDOWS = ['15m', '1h', '6h', '24h'] as const;
export type StatsWindow = (typeof STATS_WINDOWS)[number];

/** The dashboard's window from its route (`/dashboard?window=1h`). */
export function parseStatsWindow(q: LocationQuery): StatsWindow {
  return queryChoice<StatsWindow>(q, 'window', STATS_WINDOWS, STATS_WINDOWS[0]);
}

/** Chart colours per outcome, matching the status badges. */
export const OUTCOME_COLORS: Record<StatOutcome, string> = {
  succeeded: STATUS_COLORS.success,
  failed: STATUS_COLORS.failed,
  timeout: STATUS_COLORS.timeout,
  killed: STATUS_COLORS.killed,
  lost: '#fd7e14',
  missed: STATUS_COLORS.missed,
  skipped: STATUS_COLORS.skipped,
};

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function counts(v: unknown): StatCounts {
  const o = obj(v);
  return Object.fromEntries(STAT_OUTCOMES.map((k) => [k, num(o[k])])) as StatCounts;
}

/** `raw` as a Stats: missing numbers read 0 (null for lags), missing lists read empty. */
export function readStats(raw: unknown): Stats {
  const o = obj(raw);
  const lag = obj(o.lag_ms);
  const workers = obj(o.workers);
  return {
    window_seconds: num(o.window_seconds),
    generated_at: str(o.generated_at),
    complete: o.complete !== false,
    per_minute: arr(o.per_minute).map((m) => ({ ...counts(m), minute: str(obj(m).minute) })),
    totals: { ...counts(o.totals), runs: num(obj(o.totals).runs) },
    lag_ms: { p50: numOrNull(lag.p50), p90: numOrNull(lag.p90), p99: numOrNull(lag.p99), max: numOrNull(lag.max) },
    failing_jobs: arr(o.failing_jobs)
      .map(obj)
      .filter((j) => str(j.name))
      .map((j) => ({ name: str(j.name), failures: num(j.failures), last_failure_at: str(j.last_failure_at) || null })),
    missed_jobs: arr(o.missed_jobs)
      .map(obj)
      .filter((j) => str(j.name))
      .map((j) => ({ name: str(j.name), missed: num(j.missed), last_missed_at: str(j.last_missed_at) || null })),
    workers: { count: num(workers.count), in_flight: num(workers.in_flight), capacity: num(workers.capacity) },
    incomplete_nodes: arr(o.incomplete_nodes).filter((n): n is string => typeof n === 'string'),
  };
}

export interface MinuteSeries {
  /** Start of each minute (ms), oldest first. */
  minutes: number[];
  /** One row per outcome that occurred in the window, aligned with `minutes`. */
  series: Array<{ label: StatOutcome; color: string; data: number[] }>;
}

/** The per-minute counts as chart series, oldest minute first; outcomes that never occur are left out. */
export function minuteSeries(s: Stats): MinuteSeries {
  const rows = s.per_minute
    .map((m) => ({ m, t: parseTime(m.minute) }))
    .filter((x): x is { m: Stats['per_minute'][number]; t: number } => x.t !== null)
    .sort((a, b) => a.t - b.t);
  return {
    minutes: rows.map((r) => r.t),
    series: STAT_OUTCOMES.filter((k) => rows.some((r) => r.m[k] > 0)).map((k) => ({
      label: k,
      color: OUTCOME_COLORS[k],
      data: rows.map((r) => r.m[k]),
    })),
  };
}

/**
 * Runs that ended badly: failed, timed out or killed. Missed instants are counted on their own,
 * and `lost` is not added: a run whose worker was lost also ends as one of these (or is retried).
 */
export function failureCount(c: StatCounts): number {
  return c.failed + c.timeout + c.killed;
}

/** "15 min", "1 h", "90 s". */
export function windowText(seconds: number): string {
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** Worker load in percent (0 without capacity), capped at 100. */
export function loadPercent(inFlight: number | undefined, capacity: number | undefined): number {
  return capacity ? Math.min(100, Math.round(((inFlight ?? 0) / capacity) * 100)) : 0;
}
