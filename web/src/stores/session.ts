// The tab's session: whether the server requires tokens, the token kept for the tab
// (sessionStorage) and who it is. `can(action)` is the one place the controls ask what the
// signed-in role may do (the table is lib/auth.ts); the server checks again on every call.
import { reactive } from 'vue';
import { api } from '@/api/client';
import type { AuthInfo, Principal } from '@/api/types';
import { clearToken, loadToken, roleAllows, saveToken, type Action } from '@/lib/auth';
import { errorText } from '@/composables/usePolling';

export interface SessionState {
  /** True once `GET /auth` has answered (or failed). */
  loaded: boolean;
  required: boolean;
  insecureNoAuth: boolean;
  /** The token sent with every request; null when none. */
  token: string | null;
  /** Who the server takes us for: the token's owner, or the anonymous admin without auth. */
  principal: Principal | null;
  /** Why `GET /auth` failed (server unreachable); the pages show their own errors then. */
  loadError: string | null;
}

export type SignInOutcome = 'ok' | 'invalid';

export interface AuthSource {
  authInfo(token?: string | null): Promise<AuthInfo>;
}

export interface Session {
  readonly state: SessionState;
  /** Reads `GET /auth` with the kept token, once; later calls wait for the same answer. */
  load(): Promise<void>;
  /** Checks `token` with `GET /auth`; keeps it only when the server knows it. */
  signIn(token: string): Promise<SignInOutcome>;
  signOut(): void;
  /** The server refused the token (401): forget it. */
  expire(): void;
  /** Tokens are required and we have none the server accepts. */
  needsSignIn(): boolean;
  can(action: Action): boolean;
}

export function createSession(source: AuthSource, storage: Storage | null): Session {
  const state = reactive<SessionState>({
    loaded: false,
    required: false,
    insecureNoAuth: false,
    token: loadToken(storage),
    principal: null,
    loadError: null,
  });
  let loading: Promise<void> | null = null;

  const apply = (info: AuthInfo) => {
    state.required = info.required;
    state.insecureNoAuth = info.insecure_no_auth;
    state.principal = info.principal;
    state.loaded = true;
    state.loadError = null;
  };
  const forget = () => {
    clearToken(storage);
    state.token = null;
    state.principal = null;
  };

  return {
    state,
    load() {
      loading ??= (async () => {
        try {
          const info = await source.authInfo(state.token);
          apply(info);
          // A kept token the server no longer accepts (deleted, expired) is of no use.
          if (info.required && !info.principal && state.token) forget();
        } catch (err) {
          state.loaded = true;
          state.loadError = errorText(err);
        }
      })();
      return loading;
    },
    async signIn(token) {
      const t = token.trim();
      if (!t) return 'invalid';
      const info = await source.authInfo(t);
      // A refused token changes nothing but what we know of the server.
      if (!info.principal) {
        apply({ ...info, principal: state.principal });
        return 'invalid';
      }
      apply(info);
      state.token = t;
      saveToken(storage, t);
      return 'ok';
    },
    signOut: forget,
    expire: forget,
    needsSignIn: () => state.loaded && state.required && !state.principal,
    can: (action) => roleAllows(state.principal?.role, action),
  };
}

/** The part of vue-router a 401 needs. */
export interface RouterLike {
  currentRoute: { value: { name?: unknown; fullPath: string } };
  replace(to: { name: string; query: Record<string, string> }): Promise<unknown>;
}

/** A 401 from any call: forget the token and ask for one, coming back to where we were. */
export function handleUnauthorized(s: Session, router: RouterLike): void {
  s.expire();
  const here = router.currentRoute.value;
  if (here.name === 'signin') return;
  void router.replace({ name: 'signin', query: { redirect: here.fullPath, expired: '1' } });
}

function tabStorage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

/** The tab's session, over the client the pages use. */
export const session = createSession(api, tabStorage());

/** What the signed-in role may do; reactive in templates and computed values. */
export function can(action: Action): boolean {
  return session.can(action);
}
