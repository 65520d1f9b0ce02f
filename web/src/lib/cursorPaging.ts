// Cursor paging: where a list is, as the cursor of the page shown ('' = the first page) and the
// cursors of the pages before it. The server only pages forward (`cursor` → `X-Next-Cursor`), so
// "Previous" needs the cursors already followed. The cursor lives in the URL (a shared link opens
// the same page); the cursors before it live in the history entry's state, so Back, Forward and
// reload keep them. A shared link carries none: its "Previous" leads to the first page.

export interface CursorPosition {
  /** Cursor of the page shown; '' for the first page. */
  cursor: string;
  /** Cursors of the pages before it, first page ('') first; null when unknown (a shared link). */
  before: string[] | null;
}

export const FIRST_PAGE: CursorPosition = { cursor: '', before: [] };

/** The position read back from the URL's cursor and the history entry's saved cursors. */
export function restorePosition(cursor: string, saved: unknown): CursorPosition {
  if (!cursor) return FIRST_PAGE;
  const ok = Array.isArray(saved) && saved.length > 0 && saved.every((c) => typeof c === 'string') && saved[0] === '';
  return { cursor, before: ok ? (saved as string[]).slice() : null };
}

/** The page after `pos`, given the server's next cursor. */
export function nextPosition(pos: CursorPosition, nextCursor: string): CursorPosition {
  return { cursor: nextCursor, before: pos.before ? [...pos.before, pos.cursor] : null };
}

/** The page before `pos` (the first page when the cursors before it are unknown). */
export function prevPosition(pos: CursorPosition): CursorPosition {
  if (!pos.cursor || !pos.before || pos.before.length === 0) return FIRST_PAGE;
  const before = pos.before.slice(0, -1);
  return { cursor: pos.before[pos.before.length - 1] as string, before };
}

/** 1-based number of the page shown; null when unknown. */
export function pageNumber(pos: CursorPosition): number | null {
  if (!pos.cursor) return 1;
  return pos.before ? pos.before.length + 1 : null;
}
