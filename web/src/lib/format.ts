// Formatting helpers: times, durations, offsets. Pure functions (the clock is a parameter).

/** Milliseconds since the epoch for an RFC 3339 string, or null when absent or unparsable. */
export function parseTime(s: string | null | undefined): number | null {
  if (!s) return null;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}

/** A duration for people: "850 ms", "4.2 s", "2m 05s", "1h 02m", "3d 4h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  const a = Math.abs(ms);
  let out: string;
  if (a < 1000) out = `${Math.round(a)} ms`;
  else if (a < 10_000) out = `${(Math.floor(a / 100) / 10).toFixed(1)} s`;
  else if (a < 60_000) out = `${Math.floor(a / 1000)} s`;
  else if (a < 3_600_000) {
    const m = Math.floor(a / 60_000);
    const s = Math.floor((a % 60_000) / 1000);
    out = `${m}m ${String(s).padStart(2, '0')}s`;
  } else if (a < 86_400_000) {
    const h = Math.floor(a / 3_600_000);
    const m = Math.floor((a % 3_600_000) / 60_000);
    out = `${h}h ${String(m).padStart(2, '0')}m`;
  } else {
    const d = Math.floor(a / 86_400_000);
    const h = Math.floor((a % 86_400_000) / 3_600_000);
    out = `${d}d ${h}h`;
  }
  return neg ? `-${out}` : out;
}

/** "in 5 s", "3 min ago", "in 2 h 5 min", "now". */
export function formatRelative(targetMs: number | null, nowMs: number): string {
  if (targetMs === null) return '—';
  const diff = targetMs - nowMs;
  const a = Math.abs(diff);
  if (a < 1000) return 'now';
  let text: string;
  if (a < 60_000) text = `${Math.floor(a / 1000)} s`;
  else if (a < 3_600_000) text = `${Math.floor(a / 60_000)} min`;
  else if (a < 86_400_000) {
    const h = Math.floor(a / 3_600_000);
    const m = Math.floor((a % 3_600_000) / 60_000);
    text = m ? `${h} h ${m} min` : `${h} h`;
  } else {
    const d = Math.floor(a / 86_400_000);
    const h = Math.floor((a % 86_400_000) / 3_600_000);
    text = h ? `${d} d ${h} h` : `${d} d`;
  }
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A cached formatter: building an Intl.DateTimeFormat costs far more than using one. */
function formatter(timeZone: string | undefined, withZone: boolean): Intl.DateTimeFormat {
  const key = `${timeZone ?? ''}|${withZone}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: withZone ? 'short' : undefined,
    });
    formatters.set(key, f);
  }
  return f;
}

/**
 * An instant as "YYYY-MM-DD HH:MM:SS" in `timeZone` (the browser's zone when omitted), followed by
 * the zone's short name when `withZone` is set.
 */
export function formatAbsolute(ms: number | null, timeZone?: string, withZone = false): string {
  if (ms === null) return '—';
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = formatter(timeZone, withZone).formatToParts(new Date(ms));
  } catch {
    // Unknown zone name: show UTC rather than nothing.
    return formatAbsolute(ms, 'UTC', withZone);
  }
  const get = (t: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === t)?.value ?? '';
  const base = `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
  return withZone ? `${base} ${get('timeZoneName')}` : base;
}

/** Matches an RFC 3339 timestamp, capturing date, time and offset as written. */
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The UTC offset written in an RFC 3339 string, normalised ("Z" becomes "+00:00"); null if none. */
export function offsetOf(s: string): string | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const off = m[4] as string;
  return off === 'Z' || off === 'z' ? '+00:00' : off;
}

/** Offset in minutes east of UTC ("+05:30" → 330), or null. */
export function offsetMinutes(s: string): number | null {
  const off = offsetOf(s);
  if (!off) return null;
  const sign = off.startsWith('-') ? -1 : 1;
  const [h, m] = off.slice(1).split(':').map(Number);
  return sign * ((h ?? 0) * 60 + (m ?? 0));
}

/**
 * The wall-clock time written in an RFC 3339 string, unchanged ("2025-03-30 03:00:00 +02:00"):
 * the server writes fire times in the job's own zone, which is what the operator reasons in.
 */
export function formatWallClock(s: string): string {
  const m = RFC3339.exec(s);
  if (!m) return s;
  return `${m[1]} ${m[2]} ${offsetOf(s)}`;
}

/** Schedule lag of a run: started minus scheduled, in ms (null if either is missing). */
export function lagMs(scheduled: string | null | undefined, started: string | null | undefined): number | null {
  const a = parseTime(scheduled);
  const b = parseTime(started);
  return a === null || b === null ? null : b - a;
}

/** Duration of a run, from `duration_ms` or from its start and end. */
export function runDurationMs(e: {
  duration_ms?: number | null;
  start_time?: string | null;
  end_time?: string | null;
}): number | null {
  if (typeof e.duration_ms === 'number' && (e.duration_ms > 0 || e.end_time)) return e.duration_ms;
  const s = parseTime(e.start_time);
  const t = parseTime(e.end_time);
  return s === null || t === null ? null : t - s;
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration ("1h30m", "250ms", "1.5s", "0") into milliseconds, or null when invalid.
 * Mirrors Go's time.ParseDuration, which is what the server accepts.
 */
export function parseGoDuration(input: string): number | null {
  let s = input.trim();
  if (!s) return null;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (!s) return null;
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * (GO_UNITS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return sign * total;
}
