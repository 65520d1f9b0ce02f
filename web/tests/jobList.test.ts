import { describe, expect, it } from 'vitest';
import type { Job } from '@/api/types';
import { filterJobs, paginate, parseLabelFilter, sortJobs } from '@/lib/jobList';

function job(name: string, over: Partial<Job> = {}): Job {
  return { name, cron_expr: '*/5 * * * * *', executor_type: 'shell', executor: { command: `run ${name}` }, ...over };
}

const jobs: Job[] = [
  job('beta', { paused: true, labels: { team: 'ops' }, next_run: '2025-01-01T00:00:10Z' }),
  job('alpha', {
    labels: { team: 'web', tier: '1' },
    next_run: '2025-01-01T00:00:05Z',
    last_execution: { id: 'a1', status: 'failed', duration_ms: 30 },
  }),
  job('gamma', {
    description: 'nightly Backup',
    next_run: '2025-01-01T00:00:01Z',
    last_execution: { id: 'g1', status: 'success', duration_ms: 10 },
  }),
];

describe('filterJobs', () => {
  const none = { text: '', status: '' as const, label: '' };
  it('returns everything without a filter', () => {
    expect(filterJobs(jobs, none)).toHaveLength(3);
  });
  it('matches text in name, description and command, case-insensitively', () => {
    expect(filterJobs(jobs, { ...none, text: 'ALP' }).map((j) => j.name)).toEqual(['alpha']);
    expect(filterJobs(jobs, { ...none, text: 'backup' }).map((j) => j.name)).toEqual(['gamma']);
    expect(filterJobs(jobs, { ...none, text: 'run beta' }).map((j) => j.name)).toEqual(['beta']);
  });
  it('filters by state and last status', () => {
    expect(filterJobs(jobs, { ...none, status: 'paused' }).map((j) => j.name)).toEqual(['beta']);
    expect(filterJobs(jobs, { ...none, status: 'active' }).map((j) => j.name)).toEqual(['alpha', 'gamma']);
    expect(filterJobs(jobs, { ...none, status: 'failed' }).map((j) => j.name)).toEqual(['alpha']);
    expect(filterJobs(jobs, { ...none, status: 'never' }).map((j) => j.name)).toEqual(['beta']);
  });
  it('filters by labels', () => {
    expect(parseLabelFilter('team=ops, tier')).toEqual([
      ['team', 'ops'],
      ['tier', null],
    ]);
    expect(filterJobs(jobs, { ...none, label: 'team' }).map((j) => j.name)).toEqual(['beta', 'alpha']);
    expect(filterJobs(jobs, { ...none, label: 'team=web' }).map((j) => j.name)).toEqual(['alpha']);
    expect(filterJobs(jobs, { ...none, label: 'team=web,tier=2' })).toEqual([]);
  });
});

describe('sortJobs', () => {
  it('sorts by name both ways without touching the input', () => {
    const copy = jobs.slice();
    expect(sortJobs(jobs, 'name', 'asc').map((j) => j.name)).toEqual(['alpha', 'beta', 'gamma']);
    expect(sortJobs(jobs, 'name', 'desc').map((j) => j.name)).toEqual(['gamma', 'beta', 'alpha']);
    expect(jobs).toEqual(copy);
  });
  it('puts paused jobs last by next run', () => {
    expect(sortJobs(jobs, 'next_run', 'asc').map((j) => j.name)).toEqual(['gamma', 'alpha', 'beta']);
  });
  it('puts failures first by last status and never-run last', () => {
    expect(sortJobs(jobs, 'last_status', 'asc').map((j) => j.name)).toEqual(['alpha', 'gamma', 'beta']);
  });
  it('sorts by last duration, computed from start and end when duration_ms is absent', () => {
    const timed = [
      job('slow', { last_execution: { id: 's', status: 'success', start_time: '2025-01-01T00:00:00Z', end_time: '2025-01-01T00:00:09Z' } }),
      job('fast', { last_execution: { id: 'f', status: 'success', duration_ms: 5 } }),
      job('none'),
    ];
    expect(sortJobs(timed, 'duration', 'desc').map((j) => j.name)).toEqual(['slow', 'fast', 'none']);
  });
  it('stays fast with 10,000 jobs', () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      job(`job-${String((i * 7919) % 10_000).padStart(5, '0')}`, { next_run: new Date(1e12 + i * 1000).toISOString() }),
    );
    const t0 = performance.now();
    const f = filterJobs(many, { text: 'job-01', status: '', label: '' });
    const s = sortJobs(f, 'next_run', 'desc');
    const p = paginate(s, 3, 50);
    const ms = performance.now() - t0;
    expect(f).toHaveLength(1000);
    expect(p.items).toHaveLength(50);
    // Generous bound (shared CI cores); about 90 ms here, cold.
    expect(ms).toBeLessThan(1500);
  });
});

describe('paginate', () => {
  const xs = Array.from({ length: 101 }, (_, i) => i);
  it('returns one page with its bounds', () => {
    const p = paginate(xs, 2, 50);
    expect(p).toMatchObject({ page: 2, pages: 3, total: 101, from: 51, to: 100 });
    expect(p.items[0]).toBe(50);
  });
  it('clamps out-of-range pages', () => {
    expect(paginate(xs, 9, 50).page).toBe(3);
    expect(paginate(xs, 9, 50).items).toEqual([100]);
    expect(paginate(xs, 0, 50).page).toBe(1);
    expect(paginate([], 1, 50)).toMatchObject({ pages: 1, from: 0, to: 0, items: [] });
  });
});
