// Flags the fire times that a daylight-saving change moves.
import { offsetMinutes, offsetOf, parseTime } from './format';

export interface FireTime {
  /** As the server wrote it (RFC 3339 with the job zone's offset). */
  time: string;
  /** Normalised offset, e.g. "+02:00" (null when the string has none). */
  offset: string | null;
  /** True when this time's UTC offset differs from the previous one: a DST change lies between. */
  shifted: boolean;
  /** Human explanation for a shifted time, empty otherwise. */
  note: string;
}

function describeShift(from: string, to: string, deltaMin: number): string {
  const dir = deltaMin > 0 ? 'forward' : 'back';
  const h = Math.abs(deltaMin) / 60;
  const amount = Number.isInteger(h) ? `${h} h` : `${Math.abs(deltaMin)} min`;
  return `UTC offset changes ${from} → ${to} (clocks go ${dir} ${amount})`;
}

/**
 * Annotates consecutive fire times. `previousOffset` is the offset in force before the first time
 * (e.g. the zone's current offset), so a change right before the first fire is flagged too.
 * With `timeZone`, each time's offset is that zone's offset at that instant (the server may write
 * the times in UTC); without it, or for a zone the browser does not know, the offset written in
 * the string is used.
 */
export function flagDstShifts(times: readonly string[], previousOffset?: string | null, timeZone?: string): FireTime[] {
  let prev: string | null = previousOffset ?? null;
  let prevMin: number | null = prev ? offsetMinutes(`2000-01-01T00:00:00${prev}`) : null;
  return times.map((time) => {
    const ms = parseTime(time);
    const offset = (timeZone && ms !== null ? zoneOffsetAt(timeZone, ms) : null) ?? offsetOf(time);
    const mins = offset ? offsetMinutes(`2000-01-01T00:00:00${offset}`) : null;
    let shifted = false;
    let note = '';
    if (offset !== null && prev !== null && mins !== null && prevMin !== null && mins !== prevMin) {
      shifted = true;
      note = describeShift(prev, offset, mins - prevMin);
    }
    if (offset !== null) {
      prev = offset;
      prevMin = mins;
    }
    return { time, offset, shifted, note };
  });
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The UTC offset ("+02:00") that `timeZone` has at `atMs`, or null if the zone is unknown. */
export function zoneOffsetAt(timeZone: string, atMs: number): string | null {
  try {
    let f = offsetFormatters.get(timeZone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
      offsetFormatters.set(timeZone, f);
    }
    const parts = f.formatToParts(new Date(atMs));
    const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (name === 'GMT') return '+00:00';
    const m = /^GMT([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(name);
    if (!m) return null;
    return `${m[1]}${(m[2] as string).padStart(2, '0')}:${m[3] ?? '00'}`;
  } catch {
    return null;
  }
}
