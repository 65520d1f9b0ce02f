// Bulk actions on selected jobs: which the caller's role allows, what the confirmation says, and
// the outcome of sending one request per job with bounded concurrency.
import { ApiError, forEachBounded } from '@/api/client';
import type { Action } from './auth';

export type BulkAction = 'pause' | 'resume' | 'trigger' | 'delete';

interface BulkInfo {
  /** Button and confirm label. */
  label: string;
  /** Past tense for the summary. */
  done: string;
  /** What the role must be allowed (lib/auth.ts). */
  needs: Action;
  danger: boolean;
  /** What happens, for the confirmation. */
  effect: string;
}

export const BULK: Record<BulkAction, BulkInfo> = {
  pause: { label: 'Pause', done: 'Paused', needs: 'pause', danger: false, effect: 'Their schedules stop until resumed; runs in progress finish.' },
  resume: { label: 'Resume', done: 'Resumed', needs: 'resume', danger: false, effect: 'Their schedules start again from now.' },
  trigger: { label: 'Trigger', done: 'Triggered', needs: 'trigger', danger: false, effect: 'Each starts one manual run now.' },
  delete: {
    label: 'Delete',
    done: 'Deleted',
    needs: 'delete_job',
    danger: true,
    effect: 'Their schedules stop at once; runs in progress finish, and their history is kept.',
  },
};

export const BULK_ORDER: readonly BulkAction[] = ['pause', 'resume', 'trigger', 'delete'];

/** Requests in flight at once: a bulk action over hundreds of jobs must not flood the master. */
export const BULK_CONCURRENCY = 6;

/** The bulk actions `can` allows, in button order. */
export function allowedBulkActions(can: (a: Action) => boolean): BulkAction[] {
  return BULK_ORDER.filter((a) => can(BULK[a].needs));
}

const plural = (n: number) => `${n} job${n === 1 ? '' : 's'}`;

/** "a, b, c and 7 more": the first `shown` names of the selection. */
export function nameList(names: readonly string[], shown = 5): string {
  const head = names.slice(0, shown).join(', ');
  return names.length > shown ? `${head} and ${names.length - shown} more` : head;
}

/** The confirmation of `action` on `names`: title, question (count and first names) and button. */
export function bulkConfirmation(action: BulkAction, names: readonly string[]): { title: string; question: string; confirmLabel: string } {
  const info = BULK[action];
  return {
    title: `${info.label} ${plural(names.length)}`,
    question: `${info.label} ${plural(names.length)}: ${nameList(names)}?`,
    confirmLabel: `${info.label} ${plural(names.length)}`,
  };
}

export interface BulkResult {
  action: BulkAction;
  succeeded: string[];
  /** In selection order, each with the server's error text. */
  failed: Array<{ name: string; error: string }>;
}

export interface BulkOptions {
  errorText: (err: unknown) => string;
  /** How long to wait before sending again after `err`; null: `err` is final. */
  retryDelayMs?: (err: unknown) => number | null;
  /** At most this many tries per job. */
  maxTries?: number;
  limit?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The wait a rate-limited answer (429) asks for, else null: only a rate limit is worth a retry. */
export function rateLimitDelayMs(err: unknown): number | null {
  if (!(err instanceof ApiError) || err.status !== 429) return null;
  return err.retryAfterMs ?? 1000;
}

/**
 * Sends `call` for every name, at most `limit` at a time; an answer `retryDelayMs` allows (a rate
 * limit) is retried after the wait it asks for. Never rejects.
 */
export async function runBulk(
  action: BulkAction,
  names: readonly string[],
  call: (name: string) => Promise<unknown>,
  opts: BulkOptions,
): Promise<BulkResult> {
  const { errorText, retryDelayMs = rateLimitDelayMs, maxTries = 5, limit = BULK_CONCURRENCY } = opts;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const failures = await forEachBounded(names, limit, async (n) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await call(n);
        return;
      } catch (err) {
        const wait = attempt < maxTries ? retryDelayMs(err) : null;
        if (wait === null) throw err;
        await sleep(wait);
      }
    }
  });
  const failedBy = new Map(failures.map((f) => [f.item, errorText(f.error)]));
  return {
    action,
    succeeded: names.filter((n) => !failedBy.has(n)),
    failed: names.filter((n) => failedBy.has(n)).map((name) => ({ name, error: failedBy.get(name) as string })),
  };
}

/** One line: "Paused 48 of 50 jobs; 2 failed" or "Paused 50 jobs". */
export function bulkSummary(r: BulkResult): string {
  const total = r.succeeded.length + r.failed.length;
  const done = BULK[r.action].done;
  if (!r.failed.length) return `${done} ${plural(total)}`;
  return `${done} ${r.succeeded.length} of ${plural(total)}; ${r.failed.length} failed`;
}
