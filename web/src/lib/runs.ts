// Words for how runs end and are retried: typed end reasons, a run's result, earlier attempts and
// a job's worker-loss policy.
import type { AttemptSummary, JobSpec } from '@/api/types';

interface ReasonWords {
  /** Short, for a badge. */
  text: string;
  /** One sentence, for a tooltip or the run details. */
  help: string;
}

const REASONS: Record<string, ReasonWords> = {
  no_worker: { text: 'no worker available', help: 'No worker could take the run (none registered, none matching the selector, or all busy).' },
  worker_lost: { text: 'worker lost', help: 'Its worker stopped answering mid-run (its session expired).' },
  missed_counted: {
    text: 'earlier misses counted',
    help: 'This missed run also stands for earlier missed instants that were counted, not listed one by one.',
  },
  job_deleted: { text: 'job deleted before it started', help: 'Its job was deleted before the run started.' },
  session_lost: { text: 'session lost', help: 'Its worker could no longer prove its session alive and stopped the run.' },
  refused: {
    text: 'refused by the worker',
    help: "The worker's executor policy refused it (shell allow-list, run_as user, root, or HTTP destination).",
  },
  resource_limit: { text: 'resource limit', help: 'A resource limit (CPU time, memory, open files, processes) stopped it.' },
};

/** Human wording of an end reason; null when there is none. A reason this UI does not know yet is shown as sent. */
export function reasonText(reason: string | null | undefined): string | null {
  if (!reason) return null;
  return REASONS[reason]?.text ?? reason.replace(/_/g, ' ');
}

/** The longer explanation of an end reason (empty for none or an unknown one). */
export function reasonHelp(reason: string | null | undefined): string {
  return (reason && REASONS[reason]?.help) || '';
}

/** "HTTP 503", "exit 3" or "—". */
export function resultText(r: { exit_code?: number | null; http_status?: number | null }): string {
  if (r.http_status !== undefined && r.http_status !== null) return `HTTP ${r.http_status}`;
  if (r.exit_code !== undefined && r.exit_code !== null) return `exit ${r.exit_code}`;
  return '—';
}

/** An attempt's error, left out when it only repeats its reason ("worker lost"). */
export function attemptError(a: Pick<AttemptSummary, 'error' | 'reason'>): string {
  const error = (a.error ?? '').trim();
  const reason = reasonText(a.reason);
  return reason && error.toLowerCase() === reason.toLowerCase() ? '' : error;
}

/** What happens to a run whose worker dies mid-run, for the job's definition. */
export function workerLossPolicy(job: Pick<JobSpec, 'retry_on_worker_loss' | 'retry_policy'>): string {
  if (job.retry_on_worker_loss === false) return 'the run fails (at-most-once)';
  if (!job.retry_policy?.max_retries) return 'the run fails: retries are 0 (raise them to retry it on another worker)';
  return 'retried on another worker (at-least-once)';
}
