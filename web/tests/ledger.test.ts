import { describe, expect, it } from 'vitest';
import type { Ledger } from '@/api/types';
import { HourglassClient, type FetchLike } from '@/api/client';
import { ledgerAlarms, ledgerBadgeClass, ledgerCounts } from '@/lib/ledger';

const ledger: Ledger = {
  job: 'j',
  from: '2026-01-01T00:00:00Z',
  to: '2026-01-01T01:00:00Z',
  now: '2026-01-01T01:00:00Z',
  cursor: null,
  oldest_record: null,
  history_before_window: false,
  counts: { success: 50, unaccounted: 2, no_record: 1, pending: 3 },
  instants: [],
};

describe('ledger', () => {
  it('counts alarms and lists them first', () => {
    expect(ledgerAlarms(ledger)).toBe(3);
    expect(ledgerAlarms(null)).toBe(0);
    expect(ledgerCounts(ledger).map(([o]) => o)).toEqual(['unaccounted', 'no_record', 'success', 'pending']);
  });

  it('colours ledger-only outcomes and falls back to status colours', () => {
    expect(ledgerBadgeClass('unaccounted')).toContain('text-bg-danger');
    expect(ledgerBadgeClass('success')).toBe('text-bg-success');
    expect(ledgerBadgeClass('paused')).toContain('text-bg-light');
  });

  it('asks the server for the window', async () => {
    const urls: string[] = [];
    const fetch: FetchLike = async (url) => {
      urls.push(url);
      return new Response(JSON.stringify(ledger), { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const got = await new HourglassClient({ fetch }).ledger('a b', { from: 1000, to: 2000 });
    expect(got.counts.success).toBe(50);
    expect(urls[0]).toBe('/jobs/a%20b/ledger?from=1000&to=2000');
  });
});
