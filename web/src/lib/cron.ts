// Human-readable schedules.
import cronstrue from 'cronstrue';

/**
 * "Every 2 seconds" for "*\/2 * * * * *"; null when cronstrue cannot read the expression (the
 * server's own description, when it sends one, is preferred by callers).
 */
export function describeCron(expr: string): string | null {
  const { expr: e, zone } = stripZonePrefix(expr.trim());
  if (!e) return null;
  const every = /^@every\s+(\S+)$/.exec(e);
  if (every) return `Every ${every[1]}${zone ? ` (${zone})` : ''}`;
  try {
    const words = cronstrue.toString(e, { use24HourTimeFormat: true, throwExceptionOnParseError: true, verbose: false });
    return zone ? `${words} (${zone})` : words;
  } catch {
    return null;
  }
}

/**
 * The one-line schedule summary: cronstrue's sentence, else the first line of the server's
 * field-by-field explanation (`/cron/preview`'s `description`), else null.
 */
export function scheduleSummary(expr: string, serverExplanation?: string | null): string | null {
  const words = describeCron(expr);
  if (words) return words;
  const first = (serverExplanation ?? '').split('\n').find((l) => l.trim());
  return first ? first.trim() : null;
}

/** Splits a leading "CRON_TZ=Zone " or "TZ=Zone " (which overrides the job's zone) off `expr`. */
export function stripZonePrefix(expr: string): { expr: string; zone: string | null } {
  const m = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(expr);
  return m ? { expr: (m[2] as string).trim(), zone: m[1] as string } : { expr, zone: null };
}

const describeCache = new Map<string, string | null>();

/** Memoised describeCron: the jobs table asks for the same few expressions thousands of times. */
export function describeCronCached(expr: string): string | null {
  let d = describeCache.get(expr);
  if (d === undefined) {
    d = describeCron(expr);
    if (describeCache.size > 5000) describeCache.clear();
    describeCache.set(expr, d);
  }
  return d;
}

/** IANA zone names offered by the form (the browser's list, with UTC first). */
export function timeZoneNames(): string[] {
  let zones: string[];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = [];
  }
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}
