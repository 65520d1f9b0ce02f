// Pure pieces of the UI's authentication: what each role may do (the one table the controls
// consult), where the tab keeps its token, and how refusals read. The session that uses them is
// stores/session.ts.
import type { ApiError } from '@/api/client';
import { ROLES, type Role } from '@/api/types';

/** What a control does, beyond reading (every role reads). */
export const ACTIONS = [
  'trigger',
  'pause',
  'resume',
  'kill',
  'create_job',
  'edit_job',
  'delete_job',
  'manage_tokens',
  'read_audit',
] as const;
export type Action = (typeof ACTIONS)[number];

// The weakest role that may, mirroring the server's routes (docs/design/security.md "Roles").
const MIN_ROLE: Record<Action, Role> = {
  trigger: 'operator',
  pause: 'operator',
  resume: 'operator',
  kill: 'operator',
  create_job: 'admin',
  edit_job: 'admin',
  delete_job: 'admin',
  manage_tokens: 'admin',
  read_audit: 'admin',
};

function rank(role: string): number {
  return (ROLES as readonly string[]).indexOf(role);
}

/** Whether `role` may do `action`; false without a role or for a role this UI does not know. */
export function roleAllows(role: string | null | undefined, action: Action): boolean {
  if (!role) return false;
  const r = rank(role);
  return r >= 0 && r >= rank(MIN_ROLE[action]);
}

/** sessionStorage key of the token: kept for the tab, gone when it closes. */
export const TOKEN_KEY = 'hourglass.token';

// Storage may be missing (tests, old browsers) or throw (privacy settings, quota): the UI then
// works for the page's lifetime only.
export function loadToken(storage: Storage | null): string | null {
  try {
    return storage?.getItem(TOKEN_KEY) || null;
  } catch {
    return null;
  }
}

export function saveToken(storage: Storage | null, token: string): void {
  try {
    storage?.setItem(TOKEN_KEY, token);
  } catch {
    // Kept in memory only.
  }
}

export function clearToken(storage: Storage | null): void {
  try {
    storage?.removeItem(TOKEN_KEY);
  } catch {
    // Nothing kept.
  }
}

/** The route to return to after signing in: a path inside the UI, never another origin. */
export function safeRedirect(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/jobs';
  if (value === '/signin' || value.startsWith('/signin?') || value.startsWith('/signin/')) return '/jobs';
  return value;
}

/** A 403 or 429 in words (with the server's message); null for any other answer. */
export function refusalText(err: ApiError): string | null {
  if (err.status === 403) return `Not allowed: ${err.message}`;
  if (err.status === 429) return `Too many requests: ${err.message}`;
  return null;
}

/** What the router does with a navigation, given the session. */
export type RouteDecision =
  | { kind: 'go' }
  | { kind: 'signin'; redirect: string }
  /** To the sign-in page with nothing to sign in for (or already signed in): go on to `to`. */
  | { kind: 'skip-signin'; to: string }
  /** The role may not use the page: back to the jobs. */
  | { kind: 'forbidden'; action: Action };

export interface RouteTarget {
  name?: unknown;
  fullPath: string;
  query: Record<string, unknown>;
  /** The action the page is for (the create form: create_job), if any. */
  action?: Action;
}

export function decideRoute(to: RouteTarget, s: { needsSignIn: boolean; role: string | null | undefined }): RouteDecision {
  if (to.name === 'signin') return s.needsSignIn ? { kind: 'go' } : { kind: 'skip-signin', to: safeRedirect(to.query.redirect) };
  if (s.needsSignIn) return { kind: 'signin', redirect: to.fullPath };
  if (to.action && !roleAllows(s.role, to.action)) return { kind: 'forbidden', action: to.action };
  return { kind: 'go' };
}
