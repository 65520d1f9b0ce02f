import { describe, expect, it } from 'vitest';
import { ApiError, forEachBounded, HourglassClient, type ClientOptions, type FetchLike } from '@/api/client';

interface Call {
  url: string;
  method: string;
  body: unknown;
  headers: Record<string, string>;
}

function mock(
  respond: (c: Call) => Response | Promise<Response>,
  opts: Omit<ClientOptions, 'fetch'> = {},
): { client: HourglassClient; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    const c: Call = {
      url,
      method: init?.method ?? 'GET',
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      headers: (init?.headers ?? {}) as Record<string, string>,
    };
    calls.push(c);
    return respond(c);
  };
  return { client: new HourglassClient({ ...opts, fetch }), calls };
}

const json = (v: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('HourglassClient', () => {
  it('pages jobs with limit and cursor, reading X-Next-Cursor', async () => {
    const { client, calls } = mock((c) =>
      c.url.includes('cursor=') ? json([{ name: 'c' }]) : json([{ name: 'a' }, { name: 'b' }], 200, { 'X-Next-Cursor': 'b' }),
    );
    const p1 = await client.listJobsPage(2);
    expect(p1.nextCursor).toBe('b');
    const p2 = await client.listJobsPage(2, p1.nextCursor);
    expect(p2).toEqual({ jobs: [{ name: 'c' }], nextCursor: null });
    expect(calls.map((c) => c.url)).toEqual(['/jobs/?limit=2', '/jobs/?limit=2&cursor=b']);
  });

  it('decodes a percent-encoded job cursor once and encodes it once in the next request', async () => {
    const { client, calls } = mock((c) =>
      c.url.includes('cursor=') ? json([]) : json([{ name: '备份 50%' }], 200, { 'X-Next-Cursor': '%E5%A4%87%E4%BB%BD%2050%25' }),
    );
    const p1 = await client.listJobsPage(1);
    expect(p1.nextCursor).toBe('备份 50%');
    await client.listJobsPage(1, p1.nextCursor);
    expect(calls[1]?.url).toBe('/jobs/?limit=1&cursor=%E5%A4%87%E4%BB%BD%2050%25');
  });

  it('sends the server-side filters, one label parameter per key=value', async () => {
    const { client, calls } = mock(() => json([], 200, { 'X-Next-Cursor': 'web%2D9' }));
    const p = await client.listJobsPage(50, 'web-1', { prefix: 'web-', labels: ['team=ops', 'url=a&b'], status: 'failing' });
    expect(p.nextCursor).toBe('web-9');
    await client.listJobsPage(100, null, { prefix: '', labels: [], status: '' });
    expect(calls.map((c) => c.url)).toEqual([
      '/jobs/?limit=50&cursor=web-1&prefix=web-&status=failing&label=team%3Dops&label=url%3Da%26b',
      '/jobs/?limit=100',
    ]);
  });

  it('pages history by cursor with a status filter, reading X-Next-Cursor', async () => {
    const { client, calls } = mock((c) =>
      c.url.includes('cursor=') ? json([{ id: 'x@2' }]) : json([{ id: 'x@1' }], 200, { 'X-Next-Cursor': '1733-000007' }),
    );
    const p1 = await client.historyPage('a b', { page_size: 1, status: 'failed' });
    expect(p1).toEqual({ runs: [{ id: 'x@1' }], nextCursor: '1733-000007' });
    const p2 = await client.historyPage('a b', { page_size: 1, status: 'failed', cursor: p1.nextCursor });
    expect(p2.nextCursor).toBeNull();
    expect(calls.map((c) => c.url)).toEqual([
      '/jobs/a%20b/history?page_size=1&status=failed',
      '/jobs/a%20b/history?page_size=1&cursor=1733-000007&status=failed',
    ]);
  });

  it('reads GET /stats with its window and keeps a 429 answer\'s Retry-After', async () => {
    const { client, calls } = mock((c) =>
      c.url.startsWith('/stats') ? json({ window_seconds: 900 }) : json({ error: 'rate limit' }, 429, { 'Retry-After': '2' }),
    );
    expect(await client.stats('15m')).toEqual({ window_seconds: 900 });
    expect(calls[0]?.url).toBe('/stats?window=15m');
    await expect(client.pause('a')).rejects.toMatchObject({ status: 429, retryAfterMs: 2000 });
  });

  it('creates with POST and updates with PUT on the encoded name', async () => {
    const { client, calls } = mock((c) => json({ ...(c.body as object), id: '1' }, c.method === 'POST' ? 201 : 200));
    const spec = { name: 'a b', cron_expr: '* * * * * *', executor_type: 'shell' as const, executor: { command: 'x' } };
    const created = await client.createJob(spec);
    expect(created.id).toBe('1');
    await client.updateJob('a b', spec);
    expect(calls[0]).toMatchObject({ url: '/jobs/', method: 'POST', body: spec });
    expect(calls[0]?.headers['Content-Type']).toBe('application/json');
    expect(calls[1]).toMatchObject({ url: '/jobs/a%20b', method: 'PUT' });
  });

  it('sends actions to their routes', async () => {
    const { client, calls } = mock((c) =>
      c.url.endsWith('/trigger') ? json({ id: 'x@1-ab', status: 'scheduled', job_name: 'x' }, 202) : new Response(null, { status: 204 }),
    );
    const e = await client.trigger('x');
    await client.pause('x');
    await client.resume('x');
    await client.kill('x@1-ab');
    await client.deleteJob('x');
    expect(e.id).toBe('x@1-ab');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /jobs/x/trigger',
      'POST /jobs/x/pause',
      'POST /jobs/x/resume',
      'POST /executions/x%401-ab/kill',
      'DELETE /jobs/x',
    ]);
  });

  it('encodes cron preview parameters', async () => {
    const { client, calls } = mock(() => json({ expr: '*/2 * * * * *', timezone: 'Europe/Berlin', next: [] }));
    await client.cronPreview('*/2 * * * * *', 'Europe/Berlin', 10);
    expect(calls[0]?.url).toBe('/cron/preview?expr=*%2F2%20*%20*%20*%20*%20*&tz=Europe%2FBerlin&n=10');
  });

  it('fills in missing cluster lists', async () => {
    const { client } = mock(() => json({ leader: null }));
    expect(await client.cluster()).toEqual({ leader: null, masters: [], workers: [] });
  });

  it('turns an error body into an ApiError with details and field messages', async () => {
    const { client } = mock(() =>
      json(
        {
          error: 'invalid job: cron_expr: bad minute',
          details: ['cron_expr: bad minute'],
          code: 'invalid_argument',
          fields: [{ field: 'cron_expr', message: 'bad minute' }],
        },
        400,
      ),
    );
    const err = await client.createJob({ name: 'x', cron_expr: 'x', executor_type: 'shell', executor: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toBe('invalid job: cron_expr: bad minute');
    expect(e.details).toEqual(['cron_expr: bad minute']);
    expect(e.fieldMessage('cron_expr')).toBe('bad minute');
    expect(e.fieldMessage('name')).toBeUndefined();
  });

  it('reads the v1 error shape (error string, details, no code)', async () => {
    const { client } = mock(() =>
      json({ error: 'Validation failed', details: ["Field 'CronExpr' failed on the 'cron' tag."] }, 400),
    );
    await expect(client.getJob('x')).rejects.toMatchObject({
      status: 400,
      code: 'http_400',
      message: 'Validation failed',
      details: ["Field 'CronExpr' failed on the 'cron' tag."],
      fields: [],
    });
  });

  it('copes with non-JSON errors and network failures', async () => {
    const plain = mock(() => new Response('upstream down', { status: 502, statusText: 'Bad Gateway' }));
    await expect(plain.client.getJob('x')).rejects.toMatchObject({ status: 502, message: 'upstream down', code: 'http_502' });
    const empty = mock(() => new Response('', { status: 404, statusText: 'Not Found' }));
    await expect(empty.client.getJob('x')).rejects.toMatchObject({ status: 404, message: '404 Not Found' });
    const down = mock(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(down.client.listJobsPage(50)).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('times out a hung request', async () => {
    const fetch: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      });
    const client = new HourglassClient({ fetch, timeoutMs: 20 });
    await expect(client.cluster()).rejects.toMatchObject({ code: 'timeout' });
  });

  it('rejects a success response that is not JSON', async () => {
    const { client } = mock(() => new Response('<html>', { status: 200 }));
    await expect(client.getJob('x')).rejects.toMatchObject({ code: 'bad_response' });
  });
});

describe('HourglassClient authentication', () => {
  it('sends the session token as a bearer token on every request, and none without one', async () => {
    let token: string | null = 'hg_ops.s3cret';
    const { client, calls } = mock(() => json([]), { token: () => token });
    await client.listJobsPage(50);
    await client.pause('x').catch(() => undefined);
    token = null;
    await client.listJobsPage(50);
    expect(calls.map((c) => c.headers.Authorization)).toEqual(['Bearer hg_ops.s3cret', 'Bearer hg_ops.s3cret', undefined]);
  });

  it('checks a candidate token with GET /auth without using the session one', async () => {
    const { client, calls } = mock(() => json({ required: true, insecure_no_auth: false, principal: { name: 'v', role: 'viewer' } }), {
      token: () => 'hg_old.x',
    });
    const info = await client.authInfo('hg_v.new');
    expect(info.principal).toEqual({ name: 'v', role: 'viewer' });
    await client.authInfo(null);
    expect(calls.map((c) => `${c.method} ${c.url} ${c.headers.Authorization}`)).toEqual([
      'GET /auth Bearer hg_v.new',
      'GET /auth undefined',
    ]);
  });

  it('tells the session about a 401 and still rejects the call', async () => {
    const seen: number[] = [];
    const { client } = mock(
      () => json({ error: 'invalid or expired token', details: ['invalid or expired token'], code: 'unauthenticated' }, 401),
      { onUnauthorized: (e) => seen.push(e.status) },
    );
    await expect(client.listJobsPage(50)).rejects.toMatchObject({ status: 401, message: 'invalid or expired token' });
    expect(seen).toEqual([401]);
  });

  it('reports 403 and 429 answers as refusals with the server message', async () => {
    const refused: string[] = [];
    const unauthorized: number[] = [];
    let status = 403;
    const { client } = mock(
      () =>
        json(
          status === 403
            ? { error: 'token "v" has role viewer; this needs operator', details: [], code: 'permission_denied' }
            : { error: 'rate limit: too many requests from v; retry after 1s', details: [], code: 'resource_exhausted' },
          status,
        ),
      { onRefused: (e) => refused.push(`${e.status} ${e.message}`), onUnauthorized: (e) => unauthorized.push(e.status) },
    );
    await expect(client.trigger('x')).rejects.toMatchObject({ status: 403, code: 'permission_denied' });
    status = 429;
    await expect(client.listJobsPage(50)).rejects.toMatchObject({ status: 429 });
    status = 400;
    await expect(client.listJobsPage(50)).rejects.toMatchObject({ status: 400 });
    expect(refused).toEqual([
      '403 token "v" has role viewer; this needs operator',
      '429 rate limit: too many requests from v; retry after 1s',
    ]);
    expect(unauthorized).toEqual([]);
  });

  it('lists, creates and deletes tokens', async () => {
    const { client, calls } = mock((c) =>
      c.method === 'POST'
        ? json({ name: 'ci', role: 'operator', token: 'hg_ci.abc' }, 201)
        : c.method === 'DELETE'
          ? new Response(null, { status: 204 })
          : json([{ name: 'admin', role: 'admin', created_at: '2026-01-01T00:00:00Z', created_by: 'bootstrap', expires_at: null }]),
    );
    const list = await client.listTokens();
    expect(list.map((t) => t.name)).toEqual(['admin']);
    const created = await client.createToken({ name: 'ci', role: 'operator', expires_in: '720h' });
    expect(created.token).toBe('hg_ci.abc');
    await client.createToken({ name: 'ci2', role: 'viewer' });
    await client.deleteToken('a b');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /tokens', 'POST /tokens', 'POST /tokens', 'DELETE /tokens/a%20b']);
    expect(calls[1]?.body).toEqual({ name: 'ci', role: 'operator', expires_in: '720h' });
    expect(calls[2]?.body).toEqual({ name: 'ci2', role: 'viewer' });
  });

  it('pages the audit log by cursor, reading X-Next-Cursor', async () => {
    const entry = { time: '2026-01-01T00:00:00Z', actor: 'admin', role: 'admin', method: 'POST', route: '/tokens', target: '', status: 201, remote: '127.0.0.1' };
    const { client, calls } = mock((c) => (c.url.includes('cursor=') ? json([entry]) : json([entry, entry], 200, { 'X-Next-Cursor': 'k2' })));
    const p1 = await client.audit(2);
    expect(p1.nextCursor).toBe('k2');
    expect(p1.entries).toHaveLength(2);
    const p2 = await client.audit(2, p1.nextCursor);
    expect(p2.nextCursor).toBeNull();
    expect(calls.map((c) => c.url)).toEqual(['/audit?limit=2', '/audit?limit=2&cursor=k2']);
  });
});

describe('forEachBounded', () => {
  it('never runs more than the limit at once and collects failures', async () => {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const failures = await forEachBounded(items, 3, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      if (i % 5 === 0) throw new Error(`boom ${i}`);
    });
    expect(peak).toBe(3);
    expect(failures.map((f) => f.item).sort((a, b) => a - b)).toEqual([0, 5, 10, 15]);
  });
});
