import { describe, expect, it } from 'vitest';
import type { Execution, ExecutionStatus } from '@/api/types';
import { countFailures, failuresByJob, percentile, runsPerMinute, scheduleLags } from '@/lib/stats';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
let seq = 0;
function run(job: string, status: ExecutionStatus, startMs: number, lag = 0, trigger: Execution['trigger'] = 'schedule'): Execution {
  return {
    id: `${job}@${startMs}-${seq++}`,
    job_name: job,
    status,
    scheduled_time: new Date(startMs - lag).toISOString(),
    start_time: status === 'missed' ? null : new Date(startMs).toISOString(),
    trigger,
  };
}

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(percentile([3, 1, 2], 50)).toBe(2);
  });
});

describe('runsPerMinute', () => {
  it('buckets by minute and status over the window', () => {
    const now = T0 + 30_000; // inside the 12:00 minute
    const execs = [
      run('a', 'success', T0 + 1000),
      run('a', 'success', T0 + 2000),
      run('a', 'failed', T0 - 60_000 + 5000),
      run('b', 'missed', T0 - 120_000 + 1, 0),
      run('old', 'success', T0 - 10 * 60_000),
    ];
    const b = runsPerMinute(execs, now, 3);
    expect(b.minutes).toEqual([T0 - 120_000, T0 - 60_000, T0]);
    expect(b.counts.success).toEqual([0, 0, 2]);
    expect(b.counts.failed).toEqual([0, 1, 0]);
    expect(b.counts.missed).toEqual([1, 0, 0]);
  });
});

describe('scheduleLags', () => {
  it('collects start minus scheduled for scheduled runs in the window', () => {
    const execs = [run('a', 'success', T0, 120), run('a', 'success', T0, 5000, 'manual'), run('a', 'success', T0 - 7_200_000, 50), run('a', 'missed', T0)];
    expect(scheduleLags(execs, T0 - 3_600_000)).toEqual([120]);
  });
});

describe('failures', () => {
  it('counts failures in the window and ranks jobs', () => {
    const since = T0 - 86_400_000;
    const execs = [
      run('x', 'failed', T0 - 1000),
      run('x', 'timeout', T0 - 2000),
      run('y', 'missed', T0 - 3000),
      run('y', 'success', T0 - 4000),
      run('z', 'failed', T0 - 90_000_000),
      run('w', 'success', T0),
    ];
    expect(countFailures(execs, since)).toBe(3);
    const ranked = failuresByJob(execs, since);
    expect(ranked.map((r) => [r.job, r.failed, r.missed])).toEqual([
      ['x', 2, 0],
      ['y', 0, 1],
    ]);
    expect(ranked[0]?.lastFailure).toBe(T0 - 1000);
  });
});
