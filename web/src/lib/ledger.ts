// The schedule ledger's outcomes as the UI shows them.
import type { Ledger, LedgerOutcome } from '@/api/types';
import { statusBadgeClass } from './status';

/** Outcomes that mean an instant may have been dropped: what an operator must look at. */
export const LEDGER_ALARMS: readonly LedgerOutcome[] = ['unaccounted', 'no_record'];

const EXTRA: Partial<Record<LedgerOutcome, string>> = {
  no_worker: 'text-bg-danger',
  unaccounted: 'text-bg-danger border border-2 border-warning',
  no_record: 'text-bg-warning',
  paused: 'text-bg-light border',
  pruned: 'text-bg-light border',
  pending: 'text-bg-light border border-info',
};

export function ledgerBadgeClass(outcome: LedgerOutcome): string {
  return EXTRA[outcome] ?? statusBadgeClass(outcome);
}

/** Alarm instants in `ledger`. */
export function ledgerAlarms(ledger: Ledger | null): number {
  if (!ledger) return 0;
  return LEDGER_ALARMS.reduce((n, o) => n + (ledger.counts[o] ?? 0), 0);
}

/** Counts in a stable order: alarms first, then by count. */
export function ledgerCounts(ledger: Ledger | null): [LedgerOutcome, number][] {
  if (!ledger) return [];
  const entries = Object.entries(ledger.counts) as [LedgerOutcome, number][];
  return entries.sort(
    (a, b) => Number(LEDGER_ALARMS.includes(b[0])) - Number(LEDGER_ALARMS.includes(a[0])) || b[1] - a[1],
  );
}
