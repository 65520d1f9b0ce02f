import { describe, expect, it } from 'vitest';
import { DEFAULT_HISTORY_PAGE_SIZE, historyKey, historyRouteQuery, parseHistoryQuery } from '@/lib/historyList';

describe('history URL state', () => {
  it('reads status, size and cursor, and writes back only non-defaults', () => {
    const s = parseHistoryQuery({ status: 'failed', size: '50', cursor: '1733-000042' });
    expect(s).toEqual({ status: 'failed', size: 50, cursor: '1733-000042' });
    expect(parseHistoryQuery(historyRouteQuery(s))).toEqual(s);
    expect(historyRouteQuery(parseHistoryQuery({}))).toEqual({});
  });

  it('ignores an unknown status or page size', () => {
    expect(parseHistoryQuery({ status: 'weird', size: '33' })).toEqual({ status: '', size: DEFAULT_HISTORY_PAGE_SIZE, cursor: '' });
  });

  it('keys each page apart', () => {
    expect(historyKey(parseHistoryQuery({ cursor: 'a' }))).not.toBe(historyKey(parseHistoryQuery({ cursor: 'b' })));
  });
});
