import { describe, expect, it } from 'vitest';
import type { Job } from '@/api/types';
import { checkJobJson, emptyForm, formToSpec, jobToForm, mapServerFieldErrors, validateForm as validate, type FormLimits, type JobForm } from '@/lib/jobForm';
import openapi from '../../docs/api/openapi.json';

// The limits as the server serves them (api/openapi.json's x-hourglass-limits, which the server
// fills in from its constants and tests/api/openapi_test.cc keeps equal to them).
const limits = openapi['x-hourglass-limits'] as FormLimits;
const validateForm = (f: JobForm) => validate(f, limits);

function shell(over: Partial<JobForm> = {}): JobForm {
  return { ...emptyForm(), name: 'backup', cron_expr: '0 0 3 * * *', command: 'echo hi', ...over };
}

describe('validateForm', () => {
  it('checks against the limits the server sends, not copies of them', () => {
    const tight: FormLimits = {
      ...limits,
      job_name_max_chars: 5,
      max_retries: 2,
      history_limit_max: 50,
      label_key_max_bytes: 3,
      shell_limits: { ...limits.shell_limits, processes: { min: 1, max: 7 } },
    };
    const f = shell({ name: 'abcdef', max_retries: '3', history_limit: '51' });
    f.limits.processes = '8';
    f.labels = [{ key: 'abcd', value: 'x' }];
    const e = validate(f, tight);
    expect(e.name).toMatch(/at most 5 characters/);
    expect(e['retry_policy.max_retries']).toMatch(/0 to 2/);
    expect(e.history_limit).toMatch(/1 to 50/);
    expect(e['executor.limits.processes']).toMatch(/1 to 7/);
    expect(Object.keys(e).some((k) => k.startsWith('labels'))).toBe(true);
    expect(validate(f, limits)).toEqual({});
  });

  it('accepts a minimal shell job', () => {
    expect(validateForm(shell())).toEqual({});
  });

  it('requires name, schedule and command', () => {
    const e = validateForm(emptyForm());
    expect(Object.keys(e).sort()).toEqual(['cron_expr', 'executor.command', 'name']);
  });

  it('checks the name charset and length', () => {
    // v1 names: any 1–128 characters but "/" and control characters, not "." or "..".
    for (const ok of ['ok.name_1-2', 'My Job', '备份', '50% off', 'a@b', 'q?', '#1', '备'.repeat(128)]) {
      expect(validateForm(shell({ name: ok })).name, ok).toBeUndefined();
    }
    expect(validateForm(shell({ name: 'a/b' })).name).toBeDefined();
    expect(validateForm(shell({ name: 'x'.repeat(129) })).name).toBeDefined();
    expect(validateForm(shell({ name: '备'.repeat(129) })).name).toMatch(/128/);
    expect(validateForm(shell({ name: 'a\tb' })).name).toMatch(/control/);
    expect(validateForm(shell({ name: '.' })).name).toBeDefined();
    expect(validateForm(shell({ name: '..' })).name).toBeDefined();
    expect(validateForm(shell({ name: '' })).name).toBeDefined();
  });

  it('checks the number of cron fields but leaves the rest to the server', () => {
    expect(validateForm(shell({ cron_expr: '* * *' })).cron_expr).toMatch(/got 3/);
    expect(validateForm(shell({ cron_expr: '* * * * * * * *' })).cron_expr).toMatch(/got 8/);
    expect(validateForm(shell({ cron_expr: '@hourly' })).cron_expr).toBeUndefined();
    expect(validateForm(shell({ cron_expr: '99 * * * * *' })).cron_expr).toBeUndefined();
    expect(validateForm(shell({ cron_expr: '0 0 * * *' })).cron_expr).toBeUndefined();
    expect(validateForm(shell({ cron_expr: '0 0 0 * * * 2030' })).cron_expr).toMatch(/got 7/);
    expect(validateForm(shell({ cron_expr: 'CRON_TZ=Europe/Berlin 0 30 2 * * *' })).cron_expr).toBeUndefined();
    expect(validateForm(shell({ cron_expr: 'TZ=UTC * *' })).cron_expr).toMatch(/got 2/);
  });

  it('rejects unknown time zones', () => {
    expect(validateForm(shell({ timezone: 'Europe/Berlin' })).timezone).toBeUndefined();
    expect(validateForm(shell({ timezone: 'Mars/Base' })).timezone).toMatch(/unknown/);
  });

  it('checks HTTP fields only for HTTP jobs', () => {
    const f = shell({ executor_type: 'http', command: '' });
    expect(validateForm(f)['executor.url']).toBe('a URL is required');
    expect(validateForm({ ...f, url: 'ftp://x' })['executor.url']).toMatch(/http/);
    expect(validateForm({ ...f, url: 'http://127.0.0.1:9/x' })).toEqual({});
    expect(validateForm({ ...f, url: 'http://h/', expected_status: '200, 204' })).toEqual({});
    expect(validateForm({ ...f, url: 'http://h/', expected_status: '200, 99' })['executor.expected_status']).toBeDefined();
    expect(validateForm({ ...f, url: 'http://h/', method: 'FETCH' })['executor.method']).toBeDefined();
    expect(validateForm({ ...f, url: 'http://h/', headers: [{ key: 'Bad Header', value: 'x' }] })['executor.headers']).toBeDefined();
  });

  it('checks retries and durations', () => {
    expect(validateForm(shell({ max_retries: '11' }))['retry_policy.max_retries']).toBeDefined();
    expect(validateForm(shell({ max_retries: '-1' }))['retry_policy.max_retries']).toBeDefined();
    expect(validateForm(shell({ max_retries: '10' }))['retry_policy.max_retries']).toBeUndefined();
    expect(validateForm(shell({ backoff: '5 seconds' }))['retry_policy.backoff']).toMatch(/duration/);
    expect(validateForm(shell({ timeout: '-5s' })).timeout).toMatch(/negative/);
    expect(validateForm(shell({ starting_deadline: '1m30s', max_backoff: '2m' }))).toEqual({});
    expect(validateForm(shell({ history_limit: '0' })).history_limit).toBeDefined();
    expect(validateForm(shell({ history_limit: '10001' })).history_limit).toBeDefined();
    expect(validateForm(shell({ history_limit: '10000' })).history_limit).toBeUndefined();
    expect(validateForm(shell({ timeout: '0s' })).timeout).toMatch(/more than 0/);
    expect(validateForm(shell({ starting_deadline: '0s' })).starting_deadline).toBeUndefined();
    expect(validateForm(shell({ backoff: '10s', max_backoff: '5s' }))['retry_policy.max_backoff']).toMatch(/shorter/);
    expect(validateForm(shell({ cwd: 'relative/dir' }))['executor.cwd']).toMatch(/absolute/);
    expect(validateForm(shell({ cwd: '/tmp' }))['executor.cwd']).toBeUndefined();
  });

  it('checks key/value lists', () => {
    expect(validateForm(shell({ env: [{ key: '1BAD', value: 'x' }] }))['executor.env']).toBeDefined();
    expect(validateForm(shell({ labels: [{ key: 'team-', value: 'x' }] })).labels).toBeDefined();
    expect(validateForm(shell({ labels: [{ key: 'example.com/team', value: 'x' }] })).labels).toBeUndefined();
    expect(validateForm(shell({ selector: [{ key: '/zone', value: 'a' }] })).selector).toBeDefined();
    expect(validateForm(shell({ env: [{ key: '', value: 'x' }] }))['executor.env']).toMatch(/needs a name/);
    expect(validateForm(shell({ env: [{ key: '', value: '' }] }))['executor.env']).toBeUndefined();
    expect(
      validateForm(shell({ labels: [{ key: 'team', value: 'a' }, { key: 'team', value: 'b' }] })).labels,
    ).toMatch(/twice/);
  });
});

describe('form <-> spec', () => {
  const job: Job = {
    id: 'j1',
    name: 'ping',
    cron_expr: '*/15 * * * * *',
    timezone: 'Europe/Berlin',
    executor_type: 'http',
    executor: { url: 'http://x/y', method: 'post', headers: { A: '1' }, body: '{}', expected_status: [200, 204] },
    concurrency_policy: 'Forbid',
    retry_policy: { max_retries: 3, backoff: '5s', kind: 'exponential', max_backoff: '1m', jitter: true },
    timeout: '30s',
    starting_deadline: '60s',
    paused: true,
    description: 'd',
    labels: { team: 'ops' },
    selector: { zone: 'a' },
    history_limit: 50,
    retry_on_worker_loss: false,
    created_at: '2025-01-01T00:00:00Z',
    next_run: null,
    last_execution: null,
  };

  it('round-trips every editable field', () => {
    const spec = formToSpec(jobToForm(job));
    expect(spec).toEqual({
      name: 'ping',
      cron_expr: '*/15 * * * * *',
      timezone: 'Europe/Berlin',
      executor_type: 'http',
      executor: { url: 'http://x/y', method: 'POST', headers: { A: '1' }, body: '{}', expected_status: [200, 204] },
      concurrency_policy: 'Forbid',
      retry_policy: { max_retries: 3, backoff: '5s', kind: 'exponential', max_backoff: '1m', jitter: true },
      timeout: '30s',
      starting_deadline: '60s',
      paused: true,
      description: 'd',
      labels: { team: 'ops' },
      selector: { zone: 'a' },
      history_limit: 50,
      retry_on_worker_loss: false,
    });
  });

  it('round-trips retry_on_worker_loss and defaults it to true like the server', () => {
    expect(emptyForm().retry_on_worker_loss).toBe(true);
    expect(formToSpec(shell()).retry_on_worker_loss).toBe(true);
    // GET -> edit -> PUT keeps the value either way.
    for (const v of [true, false]) {
      const f = jobToForm({ ...job, retry_on_worker_loss: v });
      expect(f.retry_on_worker_loss).toBe(v);
      expect(formToSpec(f).retry_on_worker_loss).toBe(v);
    }
    // Absent or null (an older job, a hand-written document): the server's default.
    const { retry_on_worker_loss: _, ...older } = job;
    expect(jobToForm(older).retry_on_worker_loss).toBe(true);
    expect(jobToForm({ ...job, retry_on_worker_loss: null as unknown as boolean }).retry_on_worker_loss).toBe(true);
    const f = jobToForm(job);
    f.retry_on_worker_loss = true;
    expect(formToSpec(f).retry_on_worker_loss).toBe(true);
    expect(validateForm(f)).toEqual({});
  });

  it('rejects non-boolean booleans in a JSON document, as the server does', () => {
    expect(checkJobJson({ name: 'x', retry_on_worker_loss: false, paused: null, retry_policy: { jitter: true } })).toEqual([]);
    expect(checkJobJson({})).toEqual([]);
    expect(checkJobJson({ retry_on_worker_loss: 'false' })).toEqual([
      'retry_on_worker_loss: must be a boolean (true or false), got string',
    ]);
    expect(checkJobJson({ paused: 1, retry_policy: { jitter: [] } })).toEqual([
      'paused: must be a boolean (true or false), got number',
      'retry_policy.jitter: must be a boolean (true or false), got array',
    ]);
  });

  it('keeps run_as and limits through an edit and checks them like the server', () => {
    const job = {
      name: 's',
      cron_expr: '* * * * * *',
      executor_type: 'shell',
      executor: { command: 'true', run_as: 'deploy', limits: { cpu_seconds: 60, processes: 64 } },
    } as Job;
    const f = jobToForm(job);
    expect(f.limits).toEqual({ cpu_seconds: '60', memory_mb: '', open_files: '', processes: '64' });
    expect(formToSpec(f).executor).toMatchObject({ run_as: 'deploy', limits: { cpu_seconds: 60, processes: 64 } });
    expect(formToSpec(shell()).executor).not.toHaveProperty('limits');
    expect(formToSpec(shell()).executor).not.toHaveProperty('run_as');
    const bad = validateForm(shell({ run_as: 'ro ot', limits: { cpu_seconds: '0', memory_mb: '4', open_files: 'x', processes: '5' } }));
    expect(Object.keys(bad).sort()).toEqual([
      'executor.limits.cpu_seconds',
      'executor.limits.memory_mb',
      'executor.limits.open_files',
      'executor.run_as',
    ]);
  });

  it('keeps secret_env and secret_headers through an edit, minus removed entries', () => {
    const shellJob: Job = {
      name: 's',
      cron_expr: '* * * * * *',
      executor_type: 'shell',
      executor: { command: 'echo $T', env: { T: 'x', U: 'y' }, secret_env: ['T', 'U'] },
    } as Job;
    const f = jobToForm(shellJob);
    expect(formToSpec(f).executor.secret_env).toEqual(['T', 'U']);
    f.env = f.env.filter((p) => p.key !== 'U');
    expect(formToSpec(f).executor.secret_env).toEqual(['T']);
    f.env = [];
    expect(formToSpec(f).executor).not.toHaveProperty('secret_env');

    const httpJob: Job = {
      name: 'h',
      cron_expr: '* * * * * *',
      executor_type: 'http',
      executor: { url: 'http://x/', headers: { 'X-Key': 'k' }, secret_headers: ['x-key'] },
    } as Job;
    expect(formToSpec(jobToForm(httpJob)).executor.secret_headers).toEqual(['x-key']);
  });

  it('sends only the chosen executor and omits empty optionals', () => {
    const f = shell({ url: 'http://left.over/', env: [{ key: 'A', value: '1' }, { key: ' ', value: '' }] });
    const spec = formToSpec(f);
    expect(spec.executor).toEqual({ command: 'echo hi', env: { A: '1' } });
    expect(spec).not.toHaveProperty('timeout');
    expect(spec).not.toHaveProperty('labels');
    expect(spec).not.toHaveProperty('history_limit');
    expect(spec.timezone).toBe('UTC');
    expect(spec.retry_policy).toEqual({ max_retries: 0, kind: 'fixed', jitter: false });
  });

  it('reads a v1 job without the newer fields', () => {
    const f = jobToForm({ name: 'old', cron_expr: '*/10 * * * * *', executor_type: 'shell', executor: { command: 'date' } });
    expect(f.timezone).toBe('UTC');
    expect(f.concurrency_policy).toBe('Allow');
    expect(f.max_retries).toBe('0');
    expect(validateForm(f)).toEqual({});
  });
});

describe('mapServerFieldErrors', () => {
  it('puts known fields beside their inputs and the rest in a list', () => {
    const { byField, other } = mapServerFieldErrors([
      { field: 'cron_expr', message: 'bad minute' },
      { field: 'executor.command', message: 'empty' },
      { field: 'command', message: 'too long' },
      { field: 'executor.env.FOO', message: 'bad value' },
      { field: 'labels.team', message: 'too long' },
      { field: 'executor.expected_status[1]', message: 'must be 100-599' },
      { field: 'executor.headers.X.Y', message: 'bad header' },
      { field: 'backoff', message: 'bad' },
      { field: 'retry_on_worker_loss', message: 'must be a boolean (true or false), got string' },
      { field: 'mystery', message: '?' },
    ]);
    expect(byField).toEqual({
      cron_expr: 'bad minute',
      'executor.command': 'empty; too long',
      'executor.env': 'bad value',
      labels: 'too long',
      'executor.expected_status': 'must be 100-599',
      'executor.headers': 'bad header',
      'retry_policy.backoff': 'bad',
      retry_on_worker_loss: 'must be a boolean (true or false), got string',
    });
    expect(other).toEqual(['mystery: ?']);
  });
});
