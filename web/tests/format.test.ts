import { describe, expect, it } from 'vitest';
import {
  formatAbsolute,
  formatDuration,
  formatRelative,
  formatWallClock,
  lagMs,
  offsetMinutes,
  offsetOf,
  parseGoDuration,
  parseTime,
  runDurationMs,
} from '@/lib/format';

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [1000, '1.0 s'],
    [4260, '4.2 s'],
    [12_500, '12 s'],
    [125_000, '2m 05s'],
    [3_720_000, '1h 02m'],
    [90_000_000, '1d 1h'],
    [-1500, '-1.5 s'],
  ])('%d ms -> %s', (ms, want) => {
    expect(formatDuration(ms)).toBe(want);
  });
  it('shows a dash for missing values', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(undefined)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });
});

describe('formatRelative', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);
  it.each([
    [now + 400, 'now'],
    [now + 5_000, 'in 5 s'],
    [now - 5_000, '5 s ago'],
    [now + 3 * 60_000 + 10_000, 'in 3 min'],
    [now - 2 * 3_600_000, '2 h ago'],
    [now + 2 * 3_600_000 + 5 * 60_000, 'in 2 h 5 min'],
    [now - 3 * 86_400_000 - 4 * 3_600_000, '3 d 4 h ago'],
    [now + 86_400_000, 'in 1 d'],
  ])('%d -> %s', (t, want) => {
    expect(formatRelative(t, now)).toBe(want);
  });
  it('handles a missing time', () => {
    expect(formatRelative(null, now)).toBe('—');
  });
});

describe('absolute and wall-clock times', () => {
  it('formats in a named zone', () => {
    const t = Date.parse('2025-07-01T10:00:00Z');
    expect(formatAbsolute(t, 'UTC')).toBe('2025-07-01 10:00:00');
    expect(formatAbsolute(t, 'Europe/Berlin')).toBe('2025-07-01 12:00:00');
    expect(formatAbsolute(t, 'America/New_York', true)).toBe('2025-07-01 06:00:00 EDT');
  });
  it('falls back to UTC for an unknown zone', () => {
    expect(formatAbsolute(0, 'Not/AZone')).toBe('1970-01-01 00:00:00');
  });
  it('keeps the wall clock the server wrote', () => {
    expect(formatWallClock('2025-03-30T03:00:00+02:00')).toBe('2025-03-30 03:00:00 +02:00');
    expect(formatWallClock('2025-03-30T01:00:00.250Z')).toBe('2025-03-30 01:00:00 +00:00');
    expect(formatWallClock('garbage')).toBe('garbage');
  });
  it('reads offsets', () => {
    expect(offsetOf('2025-03-30T03:00:00+02:00')).toBe('+02:00');
    expect(offsetOf('2025-03-30T03:00:00Z')).toBe('+00:00');
    expect(offsetOf('2025-03-30')).toBeNull();
    expect(offsetMinutes('2025-01-01T00:00:00+05:30')).toBe(330);
    expect(offsetMinutes('2025-01-01T00:00:00-03:30')).toBe(-210);
  });
  it('parses RFC 3339 or returns null', () => {
    expect(parseTime('2025-01-01T00:00:00Z')).toBe(Date.UTC(2025, 0, 1));
    expect(parseTime('')).toBeNull();
    expect(parseTime(null)).toBeNull();
    expect(parseTime('nope')).toBeNull();
  });
});

describe('run timing', () => {
  it('computes lag', () => {
    expect(lagMs('2025-01-01T00:00:00Z', '2025-01-01T00:00:00.120Z')).toBe(120);
    expect(lagMs('2025-01-01T00:00:00Z', null)).toBeNull();
  });
  it('prefers duration_ms, else end minus start', () => {
    expect(runDurationMs({ duration_ms: 42, end_time: '2025-01-01T00:00:01Z' })).toBe(42);
    expect(runDurationMs({ start_time: '2025-01-01T00:00:00Z', end_time: '2025-01-01T00:00:02Z' })).toBe(2000);
    expect(runDurationMs({ duration_ms: 0, start_time: '2025-01-01T00:00:00Z' })).toBeNull();
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['5s', 5000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['2h45m30s', 9_930_000],
    ['1500us', 1.5],
    ['-2s', -2000],
  ])('%s -> %d ms', (s, want) => {
    expect(parseGoDuration(s)).toBeCloseTo(want, 6);
  });
  it.each(['', '5', 's', '5x', '1h 30m', '--1s', '1d'])('rejects %j', (s) => {
    expect(parseGoDuration(s)).toBeNull();
  });
});
