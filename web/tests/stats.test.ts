import { describe, expect, it } from 'vitest';
import { failureCount, loadPercent, minuteSeries, parseStatsWindow, readStats, windowText } from '@/lib/stats';

const minute = (iso: string, over: Record<string, number> = {}) => ({
  minute: iso,
  succeeded: 0,
  failed: 0,
  timeout: 0,
  killed: 0,
  skipped: 0,
  missed: 0,
  lost: 0,
  ...over,
});

const sample = {
  window_seconds: 900,
  generated_at: '2026-12-07T10:15:00Z',
  complete: true,
  per_minute: [minute('2026-12-07T10:14:00Z', { succeeded: 5, failed: 1 }), minute('2026-12-07T10:13:00Z', { succeeded: 3, missed: 2 })],
  totals: { succeeded: 8, failed: 1, timeout: 2, killed: 1, skipped: 4, missed: 2, lost: 1, runs: 19 },
  lag_ms: { p50: 3, p90: 12, p99: 40, max: 95 },
  failing_jobs: [{ name: 'billing', failures: 3, last_failure_at: '2026-12-07T10:14:30Z' }],
  missed_jobs: [{ name: 'nightly', missed: 2, last_missed_at: '2026-12-07T10:13:00Z' }],
  workers: { count: 2, in_flight: 3, capacity: 8 },
  incomplete_nodes: [],
};

describe('readStats', () => {
  it('keeps a well-formed answer as it is', () => {
    expect(readStats(sample)).toEqual(sample);
  });

  it('reads missing parts as zero, null or empty instead of failing', () => {
    const s = readStats({ per_minute: [{ minute: '2026-12-07T10:14:00Z', failed: 2 }], lag_ms: { p50: 'x' }, failing_jobs: [{ failures: 1 }, null] });
    expect(s.totals.runs).toBe(0);
    expect(s.per_minute[0]).toEqual(minute('2026-12-07T10:14:00Z', { failed: 2 }));
    expect(s.lag_ms).toEqual({ p50: null, p90: null, p99: null, max: null });
    expect(s.failing_jobs).toEqual([]);
    expect(s.complete).toBe(true);
    expect(readStats(null).workers).toEqual({ count: 0, in_flight: 0, capacity: 0 });
    expect(readStats({ complete: false }).complete).toBe(false);
  });
});

describe('minuteSeries', () => {
  it('orders minutes oldest first and keeps only outcomes that occurred', () => {
    const m = minuteSeries(readStats(sample));
    expect(m.minutes).toEqual([Date.parse('2026-12-07T10:13:00Z'), Date.parse('2026-12-07T10:14:00Z')]);
    expect(m.series.map((x) => [x.label, x.data])).toEqual([
      ['succeeded', [3, 5]],
      ['failed', [0, 1]],
      ['missed', [2, 0]],
    ]);
  });
});

describe('dashboard figures', () => {
  it('counts failed runs as failed + timeout + killed (lost runs end as one of those, or are retried)', () => {
    expect(failureCount(readStats(sample).totals)).toBe(4);
  });
  it('reads the window from the route, 15m by default', () => {
    expect(parseStatsWindow({ window: '1h' })).toBe('1h');
    expect(parseStatsWindow({ window: '7m' })).toBe('15m');
    expect(parseStatsWindow({})).toBe('15m');
  });
  it('words the window and the load', () => {
    expect(windowText(900)).toBe('15 min');
    expect(windowText(3600)).toBe('1 h');
    expect(windowText(45)).toBe('45 s');
    expect(loadPercent(3, 8)).toBe(38);
    expect(loadPercent(9, 8)).toBe(100);
    expect(loadPercent(1, 0)).toBe(0);
  });
});
