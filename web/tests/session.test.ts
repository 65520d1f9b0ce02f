import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memoryStorage';
import { ApiError } from '@/api/client';
import type { AuthInfo } from '@/api/types';
import { TOKEN_KEY } from '@/lib/auth';
import { createSession, handleUnauthorized, type RouterLike } from '@/stores/session';


/** A server with auth on that knows `tokens` (token → principal). */
function fakeServer(opts: { required?: boolean; insecure?: boolean; tokens?: Record<string, AuthInfo['principal']>; down?: boolean } = {}) {
  const sent: Array<string | null | undefined> = [];
  const client = {
    authInfo: async (token?: string | null): Promise<AuthInfo> => {
      sent.push(token);
      if (opts.down) throw new ApiError(0, 'network', 'network error: connection refused');
      const required = opts.required ?? true;
      const principal = required ? ((token ? opts.tokens?.[token] : null) ?? null) : { name: 'anonymous', role: 'admin' };
      return { required, insecure_no_auth: opts.insecure ?? false, principal };
    },
  };
  return { client, sent };
}

const ADMIN = { name: 'admin', role: 'admin' };
const VIEWER = { name: 'v', role: 'viewer' };

describe('session', () => {
  it('needs a sign-in when the server requires tokens and none is kept', async () => {
    const { client } = fakeServer();
    const s = createSession(client, memoryStorage());
    expect(s.state.loaded).toBe(false);
    await s.load();
    expect(s.state.loaded).toBe(true);
    expect(s.needsSignIn()).toBe(true);
    expect(s.can('trigger')).toBe(false);
  });

  it('is the anonymous admin without sign-in when the server does not require tokens', async () => {
    const { client } = fakeServer({ required: false });
    const s = createSession(client, memoryStorage());
    await s.load();
    expect(s.needsSignIn()).toBe(false);
    expect(s.state.principal).toEqual({ name: 'anonymous', role: 'admin' });
    expect(s.can('delete_job')).toBe(true);
    expect(s.can('manage_tokens')).toBe(true);
  });

  it('reports --insecure-no-auth', async () => {
    const { client } = fakeServer({ required: false, insecure: true });
    const s = createSession(client, memoryStorage());
    await s.load();
    expect(s.state.insecureNoAuth).toBe(true);
  });

  it('resumes with the token kept for the tab, and drops a kept token the server no longer knows', async () => {
    const storage = memoryStorage();
    storage.setItem(TOKEN_KEY, 'hg_admin.good');
    const { client, sent } = fakeServer({ tokens: { 'hg_admin.good': ADMIN } });
    const s = createSession(client, storage);
    await s.load();
    expect(sent).toEqual(['hg_admin.good']);
    expect(s.state.principal).toEqual(ADMIN);
    expect(s.needsSignIn()).toBe(false);

    storage.setItem(TOKEN_KEY, 'hg_admin.deleted');
    const s2 = createSession(client, storage);
    await s2.load();
    expect(s2.needsSignIn()).toBe(true);
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    expect(s2.state.token).toBeNull();
  });

  it('loads once however many callers wait for it', async () => {
    const { client, sent } = fakeServer();
    const s = createSession(client, memoryStorage());
    await Promise.all([s.load(), s.load(), s.load()]);
    await s.load();
    expect(sent).toHaveLength(1);
  });

  it('signs in only with a token the server accepts, and keeps it in the storage', async () => {
    const storage = memoryStorage();
    const { client, sent } = fakeServer({ tokens: { 'hg_v.good': VIEWER } });
    const s = createSession(client, storage);
    await s.load();
    expect(await s.signIn('  hg_v.bad ')).toBe('invalid');
    expect(sent.at(-1)).toBe('hg_v.bad');
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    expect(s.needsSignIn()).toBe(true);
    expect(await s.signIn('')).toBe('invalid');

    expect(await s.signIn('hg_v.good\n')).toBe('ok');
    expect(storage.getItem(TOKEN_KEY)).toBe('hg_v.good');
    expect(s.state.token).toBe('hg_v.good');
    expect(s.state.principal).toEqual(VIEWER);
    expect(s.can('trigger')).toBe(false);
    expect(s.needsSignIn()).toBe(false);
  });

  it('signs out: token and principal gone', async () => {
    const storage = memoryStorage();
    const { client } = fakeServer({ tokens: { 'hg_admin.good': ADMIN } });
    const s = createSession(client, storage);
    await s.signIn('hg_admin.good');
    s.signOut();
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    expect(s.state.principal).toBeNull();
    expect(s.needsSignIn()).toBe(true);
  });

  it('lets the pages report an unreachable server instead of asking for a token', async () => {
    const { client } = fakeServer({ down: true });
    const s = createSession(client, memoryStorage());
    await s.load();
    expect(s.state.loaded).toBe(true);
    expect(s.state.loadError).toContain('connection refused');
    expect(s.needsSignIn()).toBe(false);
  });
});

describe('handleUnauthorized', () => {
  function fakeRouter(name: string, fullPath: string) {
    const calls: unknown[] = [];
    const router: RouterLike = {
      currentRoute: { value: { name, fullPath } },
      replace: async (to) => {
        calls.push(to);
      },
    };
    return { router, calls };
  }

  it('forgets the token and goes to sign-in, keeping the route to return to', async () => {
    const storage = memoryStorage();
    const { client } = fakeServer({ tokens: { 'hg_v.good': VIEWER } });
    const s = createSession(client, storage);
    await s.signIn('hg_v.good');
    const { router, calls } = fakeRouter('job', '/jobs/backup?page=2');
    handleUnauthorized(s, router);
    expect(storage.getItem(TOKEN_KEY)).toBeNull();
    expect(s.state.principal).toBeNull();
    expect(s.needsSignIn()).toBe(true);
    expect(calls).toEqual([{ name: 'signin', query: { redirect: '/jobs/backup?page=2', expired: '1' } }]);
  });

  it('does not navigate again from the sign-in page', () => {
    const { client } = fakeServer();
    const s = createSession(client, memoryStorage());
    const { router, calls } = fakeRouter('signin', '/signin?redirect=/jobs');
    handleUnauthorized(s, router);
    expect(calls).toEqual([]);
  });
});
