import { describe, expect, it } from 'vitest';
import { nextPollDelay, POLL_MAX_MS } from '@/composables/usePolling';

describe('nextPollDelay', () => {
  it('keeps the base interval for fast calls', () => {
    expect(nextPollDelay(1500, 40)).toBe(1500);
  });
  it('backs off in proportion to slow calls, up to a cap', () => {
    expect(nextPollDelay(1500, 1000)).toBe(3000);
    expect(nextPollDelay(1500, 60_000)).toBe(POLL_MAX_MS);
  });
  it('never caps below the base interval', () => {
    expect(nextPollDelay(20_000, 0)).toBe(20_000);
  });
});
