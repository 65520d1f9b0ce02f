import { describe, expect, it } from 'vitest';
import { HourglassClient, type FetchLike } from '@/api/client';
import { loadLimits } from '@/api/limits';
import type { Limits } from '@/api/types';
import openapi from '../../docs/api/openapi.json';

const json = (v: unknown, status = 200) =>
  new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });

function client(respond: () => Response): { client: HourglassClient; urls: string[] } {
  const urls: string[] = [];
  const fetch: FetchLike = async (url) => {
    urls.push(url);
    return respond();
  };
  return { client: new HourglassClient({ fetch }), urls };
}

describe('loadLimits', () => {
  it('reads x-hourglass-limits from GET /openapi.json once', async () => {
    const { client: c, urls } = client(() => json(openapi));
    const limits: Limits = await loadLimits(c);
    expect(limits.job_name_max_chars).toBe(128);
    expect(limits.shell_limits.memory_mb).toEqual({ min: 8, max: 1048576 });
    await loadLimits(c);
    expect(urls).toEqual(['/openapi.json']);
  });

  it('fails without limits, and tries again next time', async () => {
    let doc: unknown = { openapi: '3.0.3' };
    const { client: c, urls } = client(() => json(doc));
    await expect(loadLimits(c)).rejects.toThrow(/x-hourglass-limits/);
    doc = openapi;
    await expect(loadLimits(c)).resolves.toMatchObject({ max_retries: 10 });
    expect(urls).toHaveLength(2);
  });
});
