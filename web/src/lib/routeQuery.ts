// Reading list state back from a route's query: one value, every value, or one of a fixed set.
import type { LocationQuery } from 'vue-router';

/** The first string value of `key` ('' when absent). */
export function queryString(q: LocationQuery, key: string): string {
  const v = q[key];
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' ? x : '';
}

/** Every non-empty value of `key` (a repeated parameter). */
export function queryStrings(q: LocationQuery, key: string): string[] {
  const v = q[key];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x !== '');
}

/** The value of `key` when it is one of `choices` (compared as strings), else `fallback`. */
export function queryChoice<T extends string | number>(q: LocationQuery, key: string, choices: readonly T[], fallback: T): T {
  const v = queryString(q, key);
  return choices.find((c) => String(c) === v) ?? fallback;
}
