// Cursor paging kept in the route: the page's cursor is in the URL (the caller's query), the
// cursors before it in the history entry's state (lib/cursorPaging.ts), so Back/Forward and
// reload keep "Previous" working and a shared link opens the same page.
import { computed } from 'vue';
import { useRoute, useRouter, type LocationQueryRaw } from 'vue-router';
import { nextPosition, pageNumber, prevPosition, restorePosition, type CursorPosition } from '@/lib/cursorPaging';

const STATE_KEY = 'hgCursors';

function savedCursors(): unknown {
  return typeof window !== 'undefined' ? (window.history.state as Record<string, unknown> | null)?.[STATE_KEY] : null;
}

export function useCursorRoute(cursor: () => string) {
  const route = useRoute();
  const router = useRouter();
  /** Goes to `to` (same path), saving `before` (the cursors before its page) with the entry. */
  function navigate(to: { query: LocationQueryRaw }, before: string[] | null, mode: 'push' | 'replace' = 'push') {
    const loc = { path: route.path, query: to.query, state: { [STATE_KEY]: before } };
    return mode === 'push' ? router.push(loc) : router.replace(loc);
  }
  // Recomputed on every navigation: the history entry (and its state) changes with the route.
  const position = computed<CursorPosition>(() => {
    void route.fullPath;
    return restorePosition(cursor(), savedCursors());
  });
  return {
    position,
    page: computed(() => pageNumber(position.value)),
    navigate,
    /** To the page after this one; `queryFor` is the route query with a page's cursor. */
    toNext(nextCursor: string | null, queryFor: (cursor: string) => LocationQueryRaw) {
      if (!nextCursor) return;
      const p = nextPosition(position.value, nextCursor);
      return navigate({ query: queryFor(p.cursor) }, p.before);
    },
    toPrev(queryFor: (cursor: string) => LocationQueryRaw) {
      const p = prevPosition(position.value);
      return navigate({ query: queryFor(p.cursor) }, p.before);
    },
  };
}
