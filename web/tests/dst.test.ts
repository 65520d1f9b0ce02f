import { describe, expect, it } from 'vitest';
import { flagDstShifts, zoneOffsetAt } from '@/lib/dst';

describe('flagDstShifts', () => {
  it('flags the first time after a spring-forward change', () => {
    // Europe/Berlin, daily at 02:30: the 2025-03-30 instant does not exist locally and the
    // offset changes from +01:00 to +02:00.
    const times = [
      '2025-03-28T02:30:00+01:00',
      '2025-03-29T02:30:00+01:00',
      '2025-03-30T03:00:00+02:00',
      '2025-03-31T02:30:00+02:00',
    ];
    const rows = flagDstShifts(times);
    expect(rows.map((r) => r.shifted)).toEqual([false, false, true, false]);
    expect(rows[2]?.note).toBe('UTC offset changes +01:00 → +02:00 (clocks go forward 1 h)');
    expect(rows[0]?.offset).toBe('+01:00');
  });

  it('flags a fall-back change and reports its direction', () => {
    const rows = flagDstShifts(['2025-11-01T01:30:00-04:00', '2025-11-02T01:30:00-05:00']);
    expect(rows[1]?.shifted).toBe(true);
    expect(rows[1]?.note).toContain('back 1 h');
  });

  it('uses the offset in force before the first time', () => {
    const rows = flagDstShifts(['2025-03-30T03:00:00+02:00', '2025-03-31T03:00:00+02:00'], '+01:00');
    expect(rows.map((r) => r.shifted)).toEqual([true, false]);
  });

  it('describes half-hour shifts in minutes', () => {
    // Australia/Lord_Howe moves by 30 minutes.
    const rows = flagDstShifts(['2025-04-05T12:00:00+11:00', '2025-04-06T12:00:00+10:30']);
    expect(rows[1]?.note).toContain('back 30 min');
  });

  it('flags nothing in UTC or for unparsable strings', () => {
    expect(flagDstShifts(['2025-03-30T01:00:00Z', '2025-03-30T02:00:00Z']).some((r) => r.shifted)).toBe(false);
    const bad = flagDstShifts(['x', '2025-03-30T02:00:00+02:00', 'y', '2025-03-30T03:00:00+02:00']);
    expect(bad.some((r) => r.shifted)).toBe(false);
    expect(bad[0]?.offset).toBeNull();
  });
});

describe('zoneOffsetAt', () => {
  it('reads a zone offset at an instant', () => {
    expect(zoneOffsetAt('Europe/Berlin', Date.parse('2025-01-15T00:00:00Z'))).toBe('+01:00');
    expect(zoneOffsetAt('Europe/Berlin', Date.parse('2025-07-15T00:00:00Z'))).toBe('+02:00');
    expect(zoneOffsetAt('Asia/Kolkata', 0)).toBe('+05:30');
    expect(zoneOffsetAt('UTC', 0)).toBe('+00:00');
    expect(zoneOffsetAt('America/New_York', Date.parse('2025-01-15T00:00:00Z'))).toBe('-05:00');
  });
  it('returns null for an unknown zone', () => {
    expect(zoneOffsetAt('Mars/Olympus', 0)).toBeNull();
  });
});

describe('flagDstShifts with a zone', () => {
  it('finds the change when the server writes UTC instants', () => {
    // Daily 02:30 Europe/Berlin around the 2025-10-26 fall-back, written in UTC.
    const times = ['2025-10-25T00:30:00Z', '2025-10-26T01:30:00Z', '2025-10-27T01:30:00Z'];
    const rows = flagDstShifts(times, '+02:00', 'Europe/Berlin');
    expect(rows.map((r) => r.offset)).toEqual(['+02:00', '+01:00', '+01:00']);
    expect(rows.map((r) => r.shifted)).toEqual([false, true, false]);
    expect(rows[1]?.note).toContain('back 1 h');
  });
  it('falls back to the written offset for a zone the browser does not know', () => {
    const rows = flagDstShifts(['2025-03-29T02:30:00+01:00', '2025-03-30T03:00:00+02:00'], null, 'Nowhere/Zone');
    expect(rows.map((r) => r.shifted)).toEqual([false, true]);
  });
});
