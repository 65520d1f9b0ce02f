import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PAGE_SIZE,
  filterKey,
  formatLabelSelector,
  jobsApiFilter,
  jobsRouteQuery,
  pageKey,
  parseJobsQuery,
  parseLabelSelector,
} from '@/lib/jobList';

describe('jobs list URL state', () => {
  it('reads every filter, the page size and the cursor from the query', () => {
    const s = parseJobsQuery({ prefix: 'web-', label: ['team=ops', 'tier=1'], status: 'failing', size: '200', cursor: 'web-0049' });
    expect(s).toEqual({ prefix: 'web-', labels: ['team=ops', 'tier=1'], status: 'failing', size: 200, cursor: 'web-0049' });
    expect(jobsApiFilter(s)).toEqual({ prefix: 'web-', labels: ['team=ops', 'tier=1'], status: 'failing' });
  });

  it('falls back to the defaults for missing or unknown values', () => {
    expect(parseJobsQuery({})).toEqual({ prefix: '', labels: [], status: '', size: DEFAULT_PAGE_SIZE, cursor: '' });
    // A page size the UI does not offer, a status the server does not know, a label without '='.
    expect(parseJobsQuery({ size: '7', status: 'failed', label: ['tier', '=x', 'a=b'] })).toEqual({
      prefix: '',
      labels: ['a=b'],
      status: '',
      size: DEFAULT_PAGE_SIZE,
      cursor: '',
    });
    expect(parseJobsQuery({ label: 'team=a=b' }).labels).toEqual(['team=a=b']);
  });

  it('writes back only what differs from the defaults, so parse(write(s)) is s', () => {
    expect(jobsRouteQuery(parseJobsQuery({}))).toEqual({});
    const s = { prefix: '备份 ', labels: ['team=ops'], status: 'paused' as const, size: 100, cursor: '备份 9' };
    const q = jobsRouteQuery(s);
    expect(q).toEqual({ prefix: '备份 ', label: ['team=ops'], status: 'paused', size: '100', cursor: '备份 9' });
    expect(parseJobsQuery(q)).toEqual(s);
  });

  it('keys the filter apart from the page', () => {
    const a = parseJobsQuery({ prefix: 'x', cursor: 'x1' });
    const b = parseJobsQuery({ prefix: 'x', cursor: 'x9' });
    expect(filterKey(a)).toBe(filterKey(b));
    expect(pageKey(a)).not.toBe(pageKey(b));
    expect(filterKey(a)).not.toBe(filterKey(parseJobsQuery({ prefix: 'x', size: '100' })));
  });
});

describe('label selector input', () => {
  it('splits on commas and trims', () => {
    expect(parseLabelSelector(' team = ops ,tier=1,, ')).toEqual({ labels: ['team=ops', 'tier=1'], error: null });
    expect(parseLabelSelector('')).toEqual({ labels: [], error: null });
    expect(parseLabelSelector('url=a=b')).toEqual({ labels: ['url=a=b'], error: null });
    expect(formatLabelSelector(['team=ops', 'tier=1'])).toBe('team=ops, tier=1');
  });

  it('names the part that is not key=value', () => {
    expect(parseLabelSelector('team=ops, tier')).toEqual({ labels: [], error: '"tier" is not key=value' });
    expect(parseLabelSelector('=x').error).toBe('"=x" is not key=value');
  });
});
