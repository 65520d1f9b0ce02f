// Typed client of the Hourglass HTTP API. Relative URLs: the UI is served by the same origin as
// the API (the master mounts it under /ui/; `npm run dev` proxies the API prefixes).
import type {
  ApiErrorBody,
  AuditPage,
  AuthInfo,
  ClusterInfo,
  CreatedToken,
  CronPreview,
  Execution,
  FieldError,
  HistoryPage,
  HistoryPageQuery,
  Job,
  JobsFilter,
  JobSpec,
  JobsPage,
  Ledger,
  Limits,
  TokenInfo,
  TokenRequest,
} from './types';

/** An HTTP error from the API, with the server's error code, its list of problems (`details`) and
 * per-field messages if it sent them. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];
  readonly details: string[];
  /** From a 429's `Retry-After` (seconds), in ms; null when absent. */
  readonly retryAfterMs: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    fields: FieldError[] = [],
    details: string[] = [],
    retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.details = details;
    this.retryAfterMs = retryAfterMs;
  }

  /** The first message for `field`, if the server reported one. */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.field === field)?.message;
  }
}

/** The parts of `GET /openapi.json` the UI reads. */
export interface OpenApiDocument {
  openapi: string;
  'x-hourglass-limits': Limits;
  [key: string]: unknown;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Prefix for every path; empty for same-origin. */
  baseUrl?: string;
  fetch?: FetchLike;
  /** Per-request timeout; a hung request must not freeze polling. */
  timeoutMs?: number;
  /** The token to send as `Authorization: Bearer …`, read at every request. */
  token?: () => string | null;
  /** Called on every 401 (no, a wrong or an expired token) before the call rejects. */
  onUnauthorized?: (err: ApiError) => void;
  /** Called on every 403 (the role may not) and 429 (rate limit) before the call rejects. */
  onRefused?: (err: ApiError) => void;
}

/** The session's side of the client, set once at start (main.ts). */
export type AuthHooks = Pick<ClientOptions, 'token' | 'onUnauthorized' | 'onRefused'>;

function enc(s: string): string {
  return encodeURIComponent(s);
}

function query(params: Record<string, string | number | undefined | null>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(`${enc(k)}=${enc(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

async function errorFromResponse(res: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // Body unreadable: fall back to the status line.
  }
  let body: ApiErrorBody | null = null;
  if (text) {
    try {
      body = JSON.parse(text) as ApiErrorBody;
    } catch {
      body = null;
    }
  }
  const error = typeof body?.error === 'string' ? body.error : '';
  const message = error || (text && !body ? text.slice(0, 300) : '') || `${res.status} ${res.statusText}`.trim();
  const fields = Array.isArray(body?.fields)
    ? body.fields.filter((f) => f && typeof f.field === 'string').map((f) => ({ field: f.field, message: String(f.message ?? '') }))
    : [];
  const details = Array.isArray(body?.details) ? body.details.filter((d) => typeof d === 'string') : [];
  const code = typeof body?.code === 'string' && body.code ? body.code : `http_${res.status}`;
  const retryAfter = Number(res.headers.get('Retry-After') ?? NaN);
  return new ApiError(res.status, code, message, fields, details, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : null);
}

export class HourglassClient {
  private readonly baseUrl: string;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;
  private hooks: AuthHooks;

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = opts.baseUrl ?? '';
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.hooks = { token: opts.token, onUnauthorized: opts.onUnauthorized, onRefused: opts.onRefused };
  }

  setAuthHooks(hooks: AuthHooks): void {
    this.hooks = { ...hooks };
  }

  /** `token`: undefined sends the session's token; a string or null sends that one or none. */
  private async request(method: string, path: string, body?: unknown, token?: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const bearer = token === undefined ? this.hooks.token?.() : token;
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const ctrl = typeof AbortController !== 'undefined' ? new AbortController() : null;
    const timer = ctrl ? setTimeout(() => ctrl.abort(), this.timeoutMs) : null;
    if (ctrl) init.signal = ctrl.signal;
    let res: Response;
    try {
      res = await this.fetchFn(this.baseUrl + path, init);
    } catch (err) {
      const aborted = err instanceof Error && err.name === 'AbortError';
      throw new ApiError(0, aborted ? 'timeout' : 'network', aborted ? 'request timed out' : `network error: ${String(err)}`);
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (err.status === 401) this.hooks.onUnauthorized?.(err);
      else if (err.status === 403 || err.status === 429) this.hooks.onRefused?.(err);
      throw err;
    }
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', `server sent invalid JSON for ${method} ${path}`);
    }
  }

  /** One page of jobs, ordered by name, using the server's `limit` + `cursor` and its filters. */
  async listJobsPage(limit: number, cursor?: string | null, filter: JobsFilter = {}): Promise<JobsPage> {
    // `label` repeats (one per key=value); query() takes one value per key.
    const labels = (filter.labels ?? []).map((l) => `&label=${enc(l)}`).join('');
    const base = query({ limit, cursor, prefix: filter.prefix, status: filter.status });
    const res = await this.request('GET', `/jobs/${base}${base ? labels : labels.replace('&', '?')}`);
    const jobs = (await res.json()) as Job[];
    const next = res.headers.get('X-Next-Cursor');
    // The server percent-encodes the cursor (a job name); query() encodes it again.
    return { jobs: Array.isArray(jobs) ? jobs : [], nextCursor: next ? decodeURIComponent(next) : null };
  }

  getJob(name: string): Promise<Job> {
    return this.json<Job>('GET', `/jobs/${enc(name)}`);
  }

  /** Create or replace (v1 upsert). */
  createJob(spec: JobSpec): Promise<Job> {
    return this.json<Job>('POST', '/jobs/', spec);
  }

  updateJob(name: string, spec: JobSpec): Promise<Job> {
    return this.json<Job>('PUT', `/jobs/${enc(name)}`, spec);
  }

  async deleteJob(name: string): Promise<void> {
    await this.request('DELETE', `/jobs/${enc(name)}`);
  }

  /** One page of a job's runs, newest first, paged by the server's cursor. */
  async historyPage(name: string, q: HistoryPageQuery): Promise<HistoryPage> {
    const path = `/jobs/${enc(name)}/history${query({ page_size: q.page_size, cursor: q.cursor, status: q.status })}`;
    const res = await this.request('GET', path);
    const runs = (await res.json()) as Execution[];
    return { runs: Array.isArray(runs) ? runs : [], nextCursor: res.headers.get('X-Next-Cursor') || null };
  }

  /** Server-side aggregates over the last `window` (a Go duration such as "15m"). */
  stats(window: string): Promise<unknown> {
    return this.json<unknown>('GET', `/stats${query({ window })}`);
  }

  trigger(name: string): Promise<Execution> {
    return this.json<Execution>('POST', `/jobs/${enc(name)}/trigger`);
  }

  async pause(name: string): Promise<void> {
    await this.request('POST', `/jobs/${enc(name)}/pause`);
  }

  async resume(name: string): Promise<void> {
    await this.request('POST', `/jobs/${enc(name)}/resume`);
  }

  getExecution(id: string): Promise<Execution> {
    return this.json<Execution>('GET', `/executions/${enc(id)}`);
  }

  async kill(id: string): Promise<void> {
    await this.request('POST', `/executions/${enc(id)}/kill`);
  }

  cluster(): Promise<ClusterInfo> {
    return this.json<ClusterInfo>('GET', '/cluster').then((c) => ({
      leader: c?.leader ?? null,
      masters: Array.isArray(c?.masters) ? c.masters : [],
      workers: Array.isArray(c?.workers) ? c.workers : [],
    }));
  }

  /** Expected instants in [from, to] (RFC 3339 or unix ms; server default: the last hour). */
  ledger(name: string, q: { from?: string | number; to?: string | number } = {}): Promise<Ledger> {
    return this.json<Ledger>('GET', `/jobs/${enc(name)}/ledger${query({ from: q.from, to: q.to })}`);
  }

  cronPreview(expr: string, tz: string, n = 10): Promise<CronPreview> {
    return this.json<CronPreview>('GET', `/cron/preview${query({ expr, tz, n })}`);
  }

  /** Who `token` is (null: no token), whether tokens are required. Open route: never 401. */
  async authInfo(token: string | null = null): Promise<AuthInfo> {
    const res = await this.request('GET', '/auth', undefined, token);
    const a = (await res.json()) as Partial<AuthInfo> | null;
    const p = a?.principal;
    return {
      required: a?.required === true,
      insecure_no_auth: a?.insecure_no_auth === true,
      principal: p && typeof p.name === 'string' && typeof p.role === 'string' ? { name: p.name, role: p.role } : null,
    };
  }

  listTokens(): Promise<TokenInfo[]> {
    return this.json<TokenInfo[]>('GET', '/tokens').then((t) => (Array.isArray(t) ? t : []));
  }

  /** The answer holds the secret; it is never shown again. */
  createToken(req: TokenRequest): Promise<CreatedToken> {
    return this.json<CreatedToken>('POST', '/tokens', req);
  }

  async deleteToken(name: string): Promise<void> {
    await this.request('DELETE', `/tokens/${enc(name)}`);
  }

  /** One page of the audit log, newest first; `nextCursor` reads the older page. */
  async audit(limit: number, cursor?: string | null): Promise<AuditPage> {
    const res = await this.request('GET', `/audit${query({ limit, cursor })}`);
    const entries = (await res.json()) as AuditPage['entries'];
    const next = res.headers.get('X-Next-Cursor');
    return { entries: Array.isArray(entries) ? entries : [], nextCursor: next ? next : null };
  }

  /** `GET /openapi.json`: the API's OpenAPI document with the server's limits. */
  openApi(): Promise<OpenApiDocument> {
    return this.json<OpenApiDocument>('GET', '/openapi.json');
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; returns the failures by item. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<Array<{ item: T; error: unknown }>> {
  const failures: Array<{ item: T; error: unknown }> = [];
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failures.push({ item, error });
      }
    }
  });
  await Promise.all(workers);
  return failures;
}

/** The client the pages use. */
export const api = new HourglassClient();
