import { describe, expect, it } from 'vitest';
import { ApiError } from '@/api/client';
import { allowedBulkActions, bulkConfirmation, bulkSummary, nameList, rateLimitDelayMs, runBulk } from '@/lib/bulk';
import { roleAllows } from '@/lib/auth';
import { errorText } from '@/composables/usePolling';

const names = (n: number) => Array.from({ length: n }, (_, i) => `job-${i}`);

describe('bulk actions', () => {
  it('offers each role only what it may do', () => {
    expect(allowedBulkActions((a) => roleAllows('viewer', a))).toEqual([]);
    expect(allowedBulkActions((a) => roleAllows('operator', a))).toEqual(['pause', 'resume', 'trigger']);
    expect(allowedBulkActions((a) => roleAllows('admin', a))).toEqual(['pause', 'resume', 'trigger', 'delete']);
  });

  it('confirms with the count and the first names', () => {
    expect(nameList(['a', 'b'])).toBe('a, b');
    expect(nameList(names(7))).toBe('job-0, job-1, job-2, job-3, job-4 and 2 more');
    expect(bulkConfirmation('delete', names(7))).toEqual({
      title: 'Delete 7 jobs',
      question: 'Delete 7 jobs: job-0, job-1, job-2, job-3, job-4 and 2 more?',
      confirmLabel: 'Delete 7 jobs',
    });
    expect(bulkConfirmation('pause', ['only']).question).toBe('Pause 1 job: only?');
  });

  it('sends at most `limit` requests at once and reports failures with their error text', async () => {
    let inFlight = 0;
    let peak = 0;
    const r = await runBulk(
      'pause',
      names(20),
      async (n) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((res) => setTimeout(res, 1));
        inFlight--;
        if (n === 'job-3' || n === 'job-11') throw new ApiError(409, 'conflict', `${n} is busy`);
      },
      { errorText, limit: 6 },
    );
    expect(peak).toBe(6);
    expect(r.succeeded).toHaveLength(18);
    expect(r.failed).toEqual([
      { name: 'job-3', error: 'job-3 is busy' },
      { name: 'job-11', error: 'job-11 is busy' },
    ]);
    expect(bulkSummary(r)).toBe('Paused 18 of 20 jobs; 2 failed');
    expect(bulkSummary({ action: 'trigger', succeeded: ['a'], failed: [] })).toBe('Triggered 1 job');
  });

  it('retries a rate-limited request after the wait the server asks for, and nothing else', async () => {
    const tries = new Map<string, number>();
    const waits: number[] = [];
    const r = await runBulk(
      'resume',
      ['a', 'b', 'gone'],
      async (n) => {
        const t = (tries.get(n) ?? 0) + 1;
        tries.set(n, t);
        if (n === 'gone') throw new ApiError(404, 'not_found', 'job "gone" not found');
        if (t < 3) throw new ApiError(429, 'resource_exhausted', 'rate limit', [], [], 1000);
      },
      { errorText, sleep: async (ms) => void waits.push(ms) },
    );
    expect(r.succeeded).toEqual(['a', 'b']);
    expect(r.failed).toEqual([{ name: 'gone', error: 'job "gone" not found' }]);
    expect(tries.get('gone')).toBe(1);
    expect(waits).toEqual([1000, 1000, 1000, 1000]);
  });

  it('gives up after maxTries', async () => {
    const r = await runBulk(
      'trigger',
      ['a'],
      async () => {
        throw new ApiError(429, 'resource_exhausted', 'rate limit');
      },
      { errorText, maxTries: 3, sleep: async () => {} },
    );
    expect(r.failed).toEqual([{ name: 'a', error: 'rate limit' }]);
    expect(rateLimitDelayMs(new ApiError(429, 'x', 'y'))).toBe(1000);
    expect(rateLimitDelayMs(new Error('x'))).toBeNull();
  });
});
