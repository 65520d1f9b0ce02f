import { describe, expect, it } from 'vitest';
import { describeCron, describeCronCached, scheduleSummary, stripZonePrefix, timeZoneNames } from '@/lib/cron';

describe('describeCron', () => {
  it('reads six-field expressions with seconds', () => {
    expect(describeCron('*/2 * * * * *')).toBe('Every 2 seconds');
    expect(describeCron('0 30 9 * * 1-5')).toBe('At 09:30, Monday through Friday');
  });
  it('handles the server extensions cronstrue does not know', () => {
    expect(describeCron('@every 90s')).toBe('Every 90s');
    expect(describeCron('CRON_TZ=Europe/Berlin 0 30 2 * * *')).toBe('At 02:30 (Europe/Berlin)');
    expect(stripZonePrefix('TZ=UTC */5 * * * *')).toEqual({ expr: '*/5 * * * *', zone: 'UTC' });
    expect(stripZonePrefix('*/5 * * * *')).toEqual({ expr: '*/5 * * * *', zone: null });
  });
  it('returns null for what it cannot read', () => {
    expect(describeCron('')).toBeNull();
    expect(describeCron('not a cron')).toBeNull();
  });
  it('caches', () => {
    expect(describeCronCached('0 0 * * * *')).toBe(describeCron('0 0 * * * *'));
    expect(describeCronCached('0 0 * * * *')).toBe('Every hour');
  });
});

describe('timeZoneNames', () => {
  it('puts UTC first and includes IANA zones', () => {
    const z = timeZoneNames();
    expect(z[0]).toBe('UTC');
    expect(z).toContain('Europe/Berlin');
    expect(z.filter((x) => x === 'UTC')).toHaveLength(1);
  });
});

describe('scheduleSummary', () => {
  it('prefers the cronstrue sentence, then the first line of the server explanation', () => {
    expect(scheduleSummary('*/2 * * * * *', 'second: every 2\nminute: every minute')).toBe('Every 2 seconds');
    expect(scheduleSummary('@weird', '\nsecond: at second 0\nday: last')).toBe('second: at second 0');
    expect(scheduleSummary('???', null)).toBeNull();
  });
});
