// The create/edit form's model: conversion to and from the API's JobSpec, and client-side checks.
// Error keys are the API's field paths ("cron_expr", "executor.command", "retry_policy.backoff"),
// so server-side field errors land on the same inputs as the local ones.
import type { BackoffKind, ConcurrencyPolicy, ExecutorType, Job, JobSpec, Limits, ShellLimits } from '@/api/types';
import { stripZonePrefix } from './cron';
import { parseGoDuration } from './format';

export interface KeyValue {
  key: string;
  value: string;
}

export interface JobForm {
  name: string;
  description: string;
  cron_expr: string;
  timezone: string;
  executor_type: ExecutorType;
  command: string;
  cwd: string;
  run_as: string;
  /** Shell limits as typed ("" = the worker's default). */
  limits: Record<keyof ShellLimits, string>;
  env: KeyValue[];
  url: string;
  method: string;
  headers: KeyValue[];
  /** Carried from the loaded job so an edit never drops them (a dropped name un-redacts). */
  secret_env: string[];
  secret_headers: string[];
  body: string;
  expected_status: string;
  concurrency_policy: ConcurrencyPolicy;
  max_retries: string;
  backoff: string;
  backoff_kind: BackoffKind;
  max_backoff: string;
  jitter: boolean;
  /** Retry a run on another worker when its worker is lost (at-least-once); off: it fails (at-most-once). */
  retry_on_worker_loss: boolean;
  timeout: string;
  starting_deadline: string;
  paused: boolean;
  labels: KeyValue[];
  selector: KeyValue[];
  history_limit: string;
}

export type FormErrors = Record<string, string>;

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
/** Job names as v1 and the server take them: 1–`maxChars` characters (the server's
 * `job_name_max_chars`), no "/", no control characters, not "." or "..". Null when `name` is
 * fine, else what is wrong. */
export function jobNameProblem(name: string, maxChars: number): string | null {
  const chars = [...name].length;
  if (chars === 0) return 'a name is required';
  if (chars > maxChars) return `at most ${maxChars} characters (this has ${chars})`;
  if (name.includes('/')) return 'no "/" in a name';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'no control characters in a name';
  if (name === '.' || name === '..') return 'not "." or ".."';
  return null;
}
/** Label and selector keys, as the server checks them. */
/** Label keys (and selector keys) of at most `maxBytes` (the server's `label_key_max_bytes`). */
export function labelKeyRe(maxBytes: number): RegExp {
  return new RegExp(`^(?=.{1,${maxBytes}}$)[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$`);
}

/**
 * The server's validation limits the form checks locally: `x-hourglass-limits` of
 * GET /openapi.json (`loadLimits()`, api/limits.ts), which the server fills in from the constants
 * it validates with — never copied here.
 */
export type FormLimits = Pick<
  Limits,
  'job_name_max_chars' | 'label_key_max_bytes' | 'max_retries' | 'history_limit_max' | 'shell_limits'
>;
export const USER_NAME_RE = /^(?=.{1,32}$)[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** The shell limits the form offers; their bounds are the server's (`FormLimits.shell_limits`). */
export const SHELL_LIMITS: ReadonlyArray<{ key: keyof ShellLimits; label: string }> = [
  { key: 'cpu_seconds', label: 'CPU seconds' },
  { key: 'memory_mb', label: 'memory (MiB)' },
  { key: 'open_files', label: 'open files' },
  { key: 'processes', label: 'processes' },
];

export function emptyForm(): JobForm {
  return {
    name: '',
    description: '',
    cron_expr: '',
    timezone: 'UTC',
    executor_type: 'shell',
    command: '',
    cwd: '',
    run_as: '',
    limits: { cpu_seconds: '', memory_mb: '', open_files: '', processes: '' },
    env: [],
    url: '',
    method: 'GET',
    headers: [],
    secret_env: [],
    secret_headers: [],
    body: '',
    expected_status: '',
    concurrency_policy: 'Allow',
    max_retries: '0',
    backoff: '',
    backoff_kind: 'fixed',
    max_backoff: '',
    jitter: false,
    retry_on_worker_loss: true,
    timeout: '',
    starting_deadline: '',
    paused: false,
    labels: [],
    selector: [],
    history_limit: '',
  };
}

function toPairs(m: Record<string, string> | undefined | null): KeyValue[] {
  return m ? Object.entries(m).map(([key, value]) => ({ key, value: String(value) })) : [];
}

function fromPairs(p: readonly KeyValue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of p) {
    const k = key.trim();
    if (k) out[k] = value;
  }
  return out;
}

/** Form values for an existing job (or a JSON document typed by the user). */
export function jobToForm(job: Partial<Job>): JobForm {
  const f = emptyForm();
  const ex = job.executor ?? {};
  const rp = job.retry_policy ?? {};
  f.name = job.name ?? '';
  f.description = job.description ?? '';
  f.cron_expr = job.cron_expr ?? '';
  f.timezone = job.timezone || 'UTC';
  f.executor_type = job.executor_type === 'http' ? 'http' : 'shell';
  f.command = ex.command ?? '';
  f.cwd = ex.cwd ?? '';
  f.run_as = ex.run_as ?? '';
  for (const { key } of SHELL_LIMITS) {
    const v = ex.limits?.[key];
    f.limits[key] = v === undefined || v === null ? '' : String(v);
  }
  f.env = toPairs(ex.env);
  f.url = ex.url ?? '';
  f.method = (ex.method || 'GET').toUpperCase();
  f.headers = toPairs(ex.headers);
  f.secret_env = [...(ex.secret_env ?? [])];
  f.secret_headers = [...(ex.secret_headers ?? [])];
  f.body = ex.body ?? '';
  f.expected_status = (ex.expected_status ?? []).join(', ');
  f.concurrency_policy = job.concurrency_policy ?? 'Allow';
  f.max_retries = String(rp.max_retries ?? 0);
  f.backoff = rp.backoff ?? '';
  f.backoff_kind = rp.kind === 'exponential' ? 'exponential' : 'fixed';
  f.max_backoff = rp.max_backoff ?? '';
  f.jitter = Boolean(rp.jitter);
  // Absent or null: the server's default (true).
  f.retry_on_worker_loss = job.retry_on_worker_loss ?? true;
  f.timeout = job.timeout ?? '';
  f.starting_deadline = job.starting_deadline ?? '';
  f.paused = Boolean(job.paused);
  f.labels = toPairs(job.labels);
  f.selector = toPairs(job.selector);
  f.history_limit = job.history_limit === undefined || job.history_limit === null ? '' : String(job.history_limit);
  return f;
}

function parseStatusList(s: string): number[] {
  return s
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
}

/**
 * The request body for a form. Empty optional fields are left out so the server applies its
 * documented defaults; the executor carries only the fields of the chosen type.
 */
export function formToSpec(f: JobForm): JobSpec {
  const spec: JobSpec = {
    name: f.name.trim(),
    cron_expr: f.cron_expr.trim(),
    timezone: f.timezone.trim() || 'UTC',
    executor_type: f.executor_type,
    executor: {},
    concurrency_policy: f.concurrency_policy,
    paused: f.paused,
  };
  if (f.description.trim()) spec.description = f.description.trim();
  if (f.executor_type === 'shell') {
    spec.executor.command = f.command;
    if (f.cwd.trim()) spec.executor.cwd = f.cwd.trim();
    if (f.run_as.trim()) spec.executor.run_as = f.run_as.trim();
    const limits: ShellLimits = {};
    for (const { key } of SHELL_LIMITS) {
      if (f.limits[key].trim()) limits[key] = Number(f.limits[key].trim());
    }
    if (Object.keys(limits).length) spec.executor.limits = limits;
    const env = fromPairs(f.env);
    if (Object.keys(env).length) spec.executor.env = env;
    // Only names still present: the server rejects a secret name without its entry.
    const secretEnv = f.secret_env.filter((k) => k in env);
    if (secretEnv.length) spec.executor.secret_env = secretEnv;
  } else {
    spec.executor.url = f.url.trim();
    spec.executor.method = f.method || 'GET';
    const headers = fromPairs(f.headers);
    if (Object.keys(headers).length) spec.executor.headers = headers;
    const names = Object.keys(headers).map((h) => h.toLowerCase());
    const secretHeaders = f.secret_headers.filter((h) => names.includes(h.toLowerCase()));
    if (secretHeaders.length) spec.executor.secret_headers = secretHeaders;
    if (f.body) spec.executor.body = f.body;
    const codes = parseStatusList(f.expected_status);
    if (codes.length) spec.executor.expected_status = codes;
  }
  const retries = Number(f.max_retries.trim() || '0');
  spec.retry_policy = { max_retries: Number.isFinite(retries) ? retries : 0 };
  if (f.backoff.trim()) spec.retry_policy.backoff = f.backoff.trim();
  spec.retry_policy.kind = f.backoff_kind;
  if (f.max_backoff.trim()) spec.retry_policy.max_backoff = f.max_backoff.trim();
  spec.retry_policy.jitter = f.jitter;
  spec.retry_on_worker_loss = f.retry_on_worker_loss;
  if (f.timeout.trim()) spec.timeout = f.timeout.trim();
  if (f.starting_deadline.trim()) spec.starting_deadline = f.starting_deadline.trim();
  const labels = fromPairs(f.labels);
  if (Object.keys(labels).length) spec.labels = labels;
  const selector = fromPairs(f.selector);
  if (Object.keys(selector).length) spec.selector = selector;
  if (f.history_limit.trim()) spec.history_limit = Number(f.history_limit.trim());
  return spec;
}

function checkDuration(errors: FormErrors, field: string, value: string, label: string, positive = false): void {
  const v = value.trim();
  if (!v) return;
  const ms = parseGoDuration(v);
  if (ms === null) errors[field] = `${label} must be a duration like 30s, 5m or 1h30m`;
  else if (ms < 0) errors[field] = `${label} cannot be negative`;
  else if (positive && ms === 0) errors[field] = `${label} must be more than 0 (leave it empty for none)`;
}

function checkPairs(errors: FormErrors, field: string, pairs: readonly KeyValue[], keyRe: RegExp | null, what: string): void {
  const seen = new Set<string>();
  for (const { key, value } of pairs) {
    const k = key.trim();
    if (!k) {
      if (value) {
        errors[field] = `every ${what} needs a name`;
        return;
      }
      continue;
    }
    if (keyRe && !keyRe.test(k)) {
      errors[field] = `"${k}" is not a valid ${what} name`;
      return;
    }
    if (seen.has(k)) {
      errors[field] = `${what} "${k}" is given twice`;
      return;
    }
    seen.add(k);
  }
}

/** True when the browser knows `tz` as an IANA zone. */
export function isKnownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Local checks, run on every keystroke. The cron expression's full check is the server's
 * (`/cron/preview`); here only its shape is looked at.
 */
export function validateForm(f: JobForm, limits: FormLimits): FormErrors {
  const errors: FormErrors = {};
  const name = f.name.trim();
  const nameProblem = jobNameProblem(name, limits.job_name_max_chars);
  if (nameProblem) errors.name = nameProblem;

  const expr = stripZonePrefix(f.cron_expr.trim()).expr;
  if (!f.cron_expr.trim()) errors.cron_expr = 'a schedule is required';
  else if (!expr.startsWith('@')) {
    const n = expr ? expr.split(/\s+/).length : 0;
    if (n !== 5 && n !== 6) errors.cron_expr = `expected 6 fields (second minute hour day month weekday) or 5, got ${n}`;
  }

  const tz = f.timezone.trim();
  if (tz && !isKnownTimeZone(tz)) errors.timezone = `unknown time zone "${tz}"`;

  if (f.executor_type === 'shell') {
    if (!f.command.trim()) errors['executor.command'] = 'a command is required';
    if (f.cwd.trim() && !f.cwd.trim().startsWith('/')) errors['executor.cwd'] = 'must be an absolute path';
    if (f.run_as.trim() && !USER_NAME_RE.test(f.run_as.trim())) {
      errors['executor.run_as'] = "a user name: letters, digits, '_', '-', '.', at most 32 characters";
    }
    for (const { key } of SHELL_LIMITS) {
      const bounds = limits.shell_limits[key];
      const v = f.limits[key].trim();
      if (!bounds || !v) continue;
      const { min, max } = bounds;
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
        errors[`executor.limits.${key}`] = `a whole number from ${min} to ${max}`;
      }
    }
    checkPairs(errors, 'executor.env', f.env, /^[A-Za-z_][A-Za-z0-9_]*$/, 'variable');
  } else {
    const url = f.url.trim();
    if (!url) errors['executor.url'] = 'a URL is required';
    else {
      let ok: boolean;
      try {
        const u = new URL(url);
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
      if (!ok) errors['executor.url'] = 'must be an http:// or https:// URL';
    }
    if (!(HTTP_METHODS as readonly string[]).includes(f.method)) errors['executor.method'] = 'unsupported method';
    checkPairs(errors, 'executor.headers', f.headers, /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'header');
    const codes = parseStatusList(f.expected_status);
    if (codes.some((c) => !Number.isInteger(c) || c < 100 || c > 599)) {
      errors['executor.expected_status'] = 'a comma-separated list of HTTP status codes (100–599)';
    }
  }

  const r = f.max_retries.trim();
  if (r && (!/^\d+$/.test(r) || Number(r) > limits.max_retries)) {
    errors['retry_policy.max_retries'] = `a whole number from 0 to ${limits.max_retries}`;
  }
  checkDuration(errors, 'retry_policy.backoff', f.backoff, 'backoff');
  checkDuration(errors, 'retry_policy.max_backoff', f.max_backoff, 'max backoff', true);
  checkDuration(errors, 'timeout', f.timeout, 'timeout', true);
  checkDuration(errors, 'starting_deadline', f.starting_deadline, 'starting deadline');
  if (!errors['retry_policy.max_backoff'] && f.max_backoff.trim() && f.backoff.trim()) {
    const max = parseGoDuration(f.max_backoff) ?? 0;
    const base = parseGoDuration(f.backoff) ?? 0;
    if (max < base) errors['retry_policy.max_backoff'] = 'must not be shorter than the backoff';
  }

  const labelKey = labelKeyRe(limits.label_key_max_bytes);
  checkPairs(errors, 'labels', f.labels, labelKey, 'label');
  checkPairs(errors, 'selector', f.selector, labelKey, 'selector');

  const h = f.history_limit.trim();
  if (h && (!/^\d+$/.test(h) || Number(h) < 1 || Number(h) > limits.history_limit_max)) {
    errors.history_limit = `a whole number from 1 to ${limits.history_limit_max}`;
  }
  return errors;
}

/** Boolean members of a job document: absent or null means the server's default. */
const BOOLEAN_FIELDS = ['paused', 'retry_on_worker_loss', 'retry_policy.jitter'] as const;

/**
 * Type checks of a job typed as JSON that the form model cannot hold (it would coerce them), as
 * the server words them: boolean members must be true, false or null.
 */
export function checkJobJson(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const path of BOOLEAN_FIELDS) {
    let v: unknown = doc;
    for (const part of path.split('.')) {
      v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
    }
    if (v !== undefined && v !== null && typeof v !== 'boolean') {
      problems.push(`${path}: must be a boolean (true or false), got ${Array.isArray(v) ? 'array' : typeof v}`);
    }
  }
  return problems;
}

/** DOM id of the input for an API field path ("retry_policy.backoff" → "f-retry_policy-backoff"). */
export function fieldId(field: string): string {
  return `f-${field.replace(/\./g, '-')}`;
}

/** Form field paths the server may name differently, mapped onto ours. */
const FIELD_ALIASES: Record<string, string> = {
  command: 'executor.command',
  url: 'executor.url',
  method: 'executor.method',
  headers: 'executor.headers',
  env: 'executor.env',
  cwd: 'executor.cwd',
  body: 'executor.body',
  expected_status: 'executor.expected_status',
  max_retries: 'retry_policy.max_retries',
  backoff: 'retry_policy.backoff',
  max_backoff: 'retry_policy.max_backoff',
  'retry_policy.kind': 'retry_policy.kind',
  schedule: 'cron_expr',
  cron: 'cron_expr',
  tz: 'timezone',
};

/** Every field path the form shows an error under. */
export const FORM_FIELDS = new Set([
  'name',
  'description',
  'cron_expr',
  'timezone',
  'executor_type',
  'executor.command',
  'executor.cwd',
  'executor.run_as',
  'executor.limits.cpu_seconds',
  'executor.limits.memory_mb',
  'executor.limits.open_files',
  'executor.limits.processes',
  'executor.env',
  'executor.url',
  'executor.method',
  'executor.headers',
  'executor.body',
  'executor.expected_status',
  'concurrency_policy',
  'retry_policy.max_retries',
  'retry_policy.backoff',
  'retry_policy.kind',
  'retry_policy.max_backoff',
  'retry_policy.jitter',
  'retry_on_worker_loss',
  'timeout',
  'starting_deadline',
  'labels',
  'selector',
  'history_limit',
]);

/**
 * Splits server field errors into those the form can show beside an input and the rest (shown
 * in a summary). "executor.env.FOO" and "labels[team]" attach to their map's input.
 */
export function mapServerFieldErrors(fields: ReadonlyArray<{ field: string; message: string }>): {
  byField: FormErrors;
  other: string[];
} {
  const byField: FormErrors = {};
  const other: string[] = [];
  for (const { field, message } of fields) {
    let key = FIELD_ALIASES[field] ?? field.replace(/\[.*$/, '');
    // "labels.team", "executor.headers.X-A.b", "executor.expected_status[1]" → the map or list.
    while (key && !FORM_FIELDS.has(key)) {
      const i = key.lastIndexOf('.');
      key = i < 0 ? '' : key.slice(0, i);
      key = FIELD_ALIASES[key] ?? key;
    }
    if (FORM_FIELDS.has(key)) {
      byField[key] = byField[key] ? `${byField[key]}; ${message}` : message;
    } else {
      other.push(field ? `${field}: ${message}` : message);
    }
  }
  return { byField, other };
}
