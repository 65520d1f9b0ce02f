// JSON shapes of the Hourglass HTTP API (see docs/design/ui.md and ../shared/V1-API.md).
// Fields the server may omit are optional; the UI never assumes more than the contract promises.
// Checked at compile time against the types generated from the server's OpenAPI document
// (schema.d.ts, see schemaCheck.ts); newer shapes are taken from it directly.
import type { components } from './schema';

export type ExecutorType = 'shell' | 'http';
export type ConcurrencyPolicy = 'Allow' | 'Forbid' | 'Replace';
export type BackoffKind = 'fixed' | 'exponential';

export const EXECUTION_STATUSES = [
  'scheduled',
  'running',
  'success',
  'failed',
  'timeout',
  'killed',
  'missed',
  'skipped',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** A run that has reached one of these states will not change any more. */
export const FINAL_STATUSES: readonly ExecutionStatus[] = [
  'success',
  'failed',
  'timeout',
  'killed',
  'missed',
  'skipped',
];

/** Statuses that count as a failure on the dashboard and in "last run" badges. */
export const FAILURE_STATUSES: readonly ExecutionStatus[] = ['failed', 'timeout', 'killed', 'missed'];

/** Shell resource limits (each optional; bounds in `SHELL_LIMITS`, lib/jobForm.ts). */
export interface ShellLimits {
  cpu_seconds?: number;
  memory_mb?: number;
  open_files?: number;
  processes?: number;
}

export interface ExecutorSpec {
  command?: string;
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  expected_status?: number[];
  /** Keys of `env` whose values are secret (redacted from output, errors and logs). */
  secret_env?: string[];
  /** Names of `headers` whose values are secret, beyond the server's --secret-headers. */
  secret_headers?: string[];
  /** Shell: the user the run executes as (the worker must allow it; --run-as-allow). */
  run_as?: string;
  /** Shell: resource limits; unset ones take the worker's defaults. */
  limits?: ShellLimits;
}

export interface RetryPolicy {
  max_retries?: number;
  backoff?: string;
  kind?: BackoffKind;
  max_backoff?: string | null;
  jitter?: boolean;
}

export interface LastExecution {
  id: string;
  status: ExecutionStatus;
  trigger?: Trigger;
  scheduled_time?: string | null;
  start_time?: string | null;
  end_time?: string | null;
  duration_ms?: number | null;
}

/** What a client sends to create or replace a job. */
export interface JobSpec {
  name: string;
  cron_expr: string;
  timezone?: string;
  executor_type: ExecutorType;
  executor: ExecutorSpec;
  concurrency_policy?: ConcurrencyPolicy;
  retry_policy?: RetryPolicy;
  timeout?: string | null;
  starting_deadline?: string;
  paused?: boolean;
  description?: string;
  labels?: Record<string, string>;
  selector?: Record<string, string>;
  history_limit?: number;
  /**
   * Whether a run whose worker died mid-run is retried on another worker while
   * `retry_policy.max_retries` allows (at-least-once) or ends `failed` with reason `worker_lost`
   * (at-most-once). Server default: true.
   */
  retry_on_worker_loss?: boolean;
}

/** A job as the server returns it. */
export interface Job extends JobSpec {
  id?: string;
  created_at?: string;
  updated_at?: string;
  next_run?: string | null;
  last_execution?: LastExecution | null;
}

export type Trigger = 'schedule' | 'manual' | 'catchup';

/** Why a run ended as it did, where the status alone does not say (`reason` on records). */
export const END_REASONS = [
  'no_worker',
  'worker_lost',
  'missed_counted',
  'job_deleted',
  'session_lost',
  'refused',
  'resource_limit',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** An earlier attempt of an execution (the record's own fields describe the latest one). */
export interface AttemptSummary {
  attempt: number;
  worker_id?: string;
  status: ExecutionStatus;
  start_time?: string | null;
  end_time?: string | null;
  exit_code?: number | null;
  http_status?: number | null;
  error?: string;
  reason?: EndReason;
}

export interface Execution {
  id: string;
  job_name: string;
  status: ExecutionStatus;
  scheduled_time?: string | null;
  start_time?: string | null;
  end_time?: string | null;
  duration_ms?: number | null;
  output?: string;
  error?: string;
  retries_attempted?: number;
  attempt?: number;
  worker_id?: string;
  exit_code?: number | null;
  http_status?: number | null;
  trace_id?: string;
  trigger?: Trigger;
  term?: number;
  /** Earlier attempts, oldest first: present only when there were some (retries, lost workers). */
  attempts?: AttemptSummary[];
  /** Absent when none. */
  reason?: EndReason;
}

export interface LeaderInfo {
  id: string;
  address?: string;
  term?: number;
}

export interface MasterInfo {
  id: string;
  address?: string;
}

export interface WorkerInfo {
  id: string;
  address?: string;
  labels?: Record<string, string>;
  capacity?: number;
  in_flight?: number;
}

export interface ClusterInfo {
  leader: LeaderInfo | null;
  masters: MasterInfo[];
  workers: WorkerInfo[];
}

export interface CronPreview {
  expr: string;
  timezone: string;
  description?: string;
  next: string[];
}

export interface FieldError {
  field: string;
  message: string;
}

/** Every error body (docs/design/api.md "Errors"): v1's `error` + `details`, plus `code` and `fields`. */
export interface ApiErrorBody {
  error?: string;
  details?: string[];
  code?: string;
  fields?: FieldError[];
}

export interface JobsPage {
  jobs: Job[];
  /** Opaque cursor for the next page, from the `X-Next-Cursor` header; null on the last page. */
  nextCursor: string | null;
}

/** GET /jobs/{name}/ledger outcomes (docs/design/api.md "Schedule ledger"). */
export type LedgerOutcome = components['schemas']['LedgerOutcome'];

export interface LedgerEntry {
  instant: string;
  outcome: LedgerOutcome;
  execution: LastExecution | null;
}

export interface Ledger {
  job: string;
  from: string;
  to: string;
  now: string;
  cursor: string | null;
  oldest_record: string | null;
  history_before_window: boolean;
  counts: Partial<Record<LedgerOutcome, number>>;
  instants: LedgerEntry[];
}

/** Token roles, weakest first (docs/design/security.md). */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who the API took the caller for. `role` is a string: a newer server may know more roles. */
export interface Principal {
  name: string;
  role: string;
}

/** `GET /auth`: open; what a client needs before and after signing in. */
export interface AuthInfo {
  required: boolean;
  insecure_no_auth: boolean;
  /** The token's owner; the anonymous admin when tokens are not required; null for no or a bad token. */
  principal: Principal | null;
}

/** An entry of `GET /tokens` (never the secret). */
export interface TokenInfo {
  name: string;
  role: string;
  created_at: string;
  created_by?: string;
  expires_at?: string | null;
}

export interface TokenRequest {
  name: string;
  role: Role;
  /** Go duration such as "720h"; absent: never expires. */
  expires_in?: string;
}

/** `POST /tokens` answer: the only time `token` (the secret) is shown. */
export interface CreatedToken {
  name: string;
  role: string;
  token: string;
}

/** An entry of `GET /audit`: one mutating call, allowed or refused. */
export interface AuditEntry {
  time: string;
  actor: string;
  role?: string;
  method: string;
  /** Route template, e.g. `/jobs/{name}/trigger`. */
  route: string;
  /** The job, execution or token named in the path. */
  target?: string;
  status: number;
  remote?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

/** `GET /jobs/?status=`: the server's job states. */
export type JobState = 'paused' | 'active' | 'failing';

/** Filters of `GET /jobs/`; every one given must hold. */
export interface JobsFilter {
  /** Names starting with it. */
  prefix?: string;
  /** Each "key=value"; sent as one `label=` parameter each. */
  labels?: readonly string[];
  status?: JobState | '';
}

/** A cursor-paged history query (`GET /jobs/{name}/history`). */
export interface HistoryPageQuery {
  page_size: number;
  cursor?: string | null;
  status?: ExecutionStatus | '';
}

export interface HistoryPage {
  runs: Execution[];
  /** From `X-Next-Cursor`; null when there is nothing older. */
  nextCursor: string | null;
}

/** The outcomes `GET /stats` counts per minute. */
export const STAT_OUTCOMES = ['succeeded', 'failed', 'timeout', 'killed', 'lost', 'missed', 'skipped'] as const;
export type StatOutcome = (typeof STAT_OUTCOMES)[number];
export type StatCounts = Record<StatOutcome, number>;

/** `GET /stats?window=`: aggregates the leader and workers keep (docs/design/api.md). */
export interface Stats {
  window_seconds: number;
  generated_at: string;
  /** False when some node's counts are missing for part of the window. */
  complete: boolean;
  per_minute: Array<StatCounts & { minute: string }>;
  totals: StatCounts & { runs: number };
  lag_ms: { p50: number | null; p90: number | null; p99: number | null; max: number | null };
  failing_jobs: Array<{ name: string; failures: number; last_failure_at: string | null }>;
  missed_jobs: Array<{ name: string; missed: number; last_missed_at: string | null }>;
  workers: { count: number; in_flight: number; capacity: number };
  /** The nodes whose counts are missing for part of the window (why `complete` is false). */
  incomplete_nodes: string[];
}

/** `x-hourglass-limits` of `GET /openapi.json`: the limits the server validates with. */
export type Limits = components['schemas']['Limits'];
