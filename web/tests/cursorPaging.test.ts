import { describe, expect, it } from 'vitest';
import { FIRST_PAGE, nextPosition, pageNumber, prevPosition, restorePosition } from '@/lib/cursorPaging';

describe('cursor paging', () => {
  it('walks forward and back through the cursors followed', () => {
    const p2 = nextPosition(FIRST_PAGE, 'c1');
    const p3 = nextPosition(p2, 'c2');
    expect(p3).toEqual({ cursor: 'c2', before: ['', 'c1'] });
    expect(pageNumber(FIRST_PAGE)).toBe(1);
    expect(pageNumber(p3)).toBe(3);
    expect(prevPosition(p3)).toEqual(p2);
    expect(prevPosition(p2)).toEqual(FIRST_PAGE);
    expect(prevPosition(FIRST_PAGE)).toEqual(FIRST_PAGE);
  });

  it('restores the position from the URL cursor and the saved cursors', () => {
    expect(restorePosition('', ['', 'x'])).toEqual(FIRST_PAGE);
    expect(restorePosition('c2', ['', 'c1'])).toEqual({ cursor: 'c2', before: ['', 'c1'] });
  });

  it('after a shared link (no saved cursors) knows no page number and goes back to the first page', () => {
    for (const saved of [undefined, null, 'x', [], ['c1'], ['', 3]]) {
      const p = restorePosition('c7', saved);
      expect(p).toEqual({ cursor: 'c7', before: null });
      expect(pageNumber(p)).toBeNull();
      expect(prevPosition(p)).toEqual(FIRST_PAGE);
      expect(nextPosition(p, 'c8')).toEqual({ cursor: 'c8', before: null });
    }
  });
});
