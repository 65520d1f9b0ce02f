import { describe, expect, it } from 'vitest';
import { memoryStorage } from './memoryStorage';
import { ApiError } from '@/api/client';
import { ACTIONS, clearToken, decideRoute, loadToken, refusalText, roleAllows, safeRedirect, saveToken, TOKEN_KEY, type Action } from '@/lib/auth';

describe('roleAllows', () => {
  const table: Record<string, Action[]> = {
    viewer: [],
    operator: ['trigger', 'pause', 'resume', 'kill'],
    admin: [...ACTIONS],
  };
  for (const [role, allowed] of Object.entries(table)) {
    it(`${role} may do exactly ${allowed.length ? allowed.join(', ') : 'nothing but read'}`, () => {
      expect(ACTIONS.filter((a) => roleAllows(role, a))).toEqual(allowed);
    });
  }

  it('refuses everything without a role or with a role it does not know', () => {
    for (const a of ACTIONS) {
      expect(roleAllows(null, a)).toBe(false);
      expect(roleAllows('root', a)).toBe(false);
      expect(roleAllows('', a)).toBe(false);
    }
  });
});

describe('token storage', () => {
  it('keeps, reads and clears the token under one key', () => {
    const s = memoryStorage();
    expect(loadToken(s)).toBeNull();
    saveToken(s, 'hg_ops.abc');
    expect(s.map.get(TOKEN_KEY)).toBe('hg_ops.abc');
    expect(loadToken(s)).toBe('hg_ops.abc');
    clearToken(s);
    expect(loadToken(s)).toBeNull();
    expect(s.length).toBe(0);
  });

  it('treats an empty value as no token', () => {
    const s = memoryStorage();
    s.setItem(TOKEN_KEY, '');
    expect(loadToken(s)).toBeNull();
  });

  it('works without storage and when storage throws (private mode, quota)', () => {
    expect(loadToken(null)).toBeNull();
    expect(() => saveToken(null, 'x')).not.toThrow();
    const broken = memoryStorage();
    broken.getItem = () => {
      throw new Error('denied');
    };
    broken.setItem = () => {
      throw new Error('quota');
    };
    broken.removeItem = () => {
      throw new Error('denied');
    };
    expect(loadToken(broken)).toBeNull();
    expect(() => saveToken(broken, 'x')).not.toThrow();
    expect(() => clearToken(broken)).not.toThrow();
  });
});

describe('safeRedirect', () => {
  it('keeps a path inside the UI', () => {
    expect(safeRedirect('/jobs/a%20b?page=2#x')).toBe('/jobs/a%20b?page=2#x');
    expect(safeRedirect('/audit')).toBe('/audit');
  });

  it('falls back to the jobs page for anything else', () => {
    for (const v of [undefined, null, '', 'jobs', '//evil.example/x', '/\\evil.example', 'https://evil.example/', '/signin', '/signin?redirect=/jobs', ['/jobs']]) {
      expect(safeRedirect(v)).toBe('/jobs');
    }
  });
});

describe('refusalText', () => {
  it('words 403 and 429 with the server message', () => {
    expect(refusalText(new ApiError(403, 'permission_denied', 'token "v" has role viewer; this needs operator'))).toBe(
      'Not allowed: token "v" has role viewer; this needs operator',
    );
    expect(refusalText(new ApiError(429, 'resource_exhausted', 'rate limit: too many requests from v; retry after 1s'))).toBe(
      'Too many requests: rate limit: too many requests from v; retry after 1s',
    );
  });

  it('is null for other answers', () => {
    expect(refusalText(new ApiError(400, 'invalid_argument', 'bad'))).toBeNull();
    expect(refusalText(new ApiError(401, 'unauthenticated', 'no'))).toBeNull();
  });
});

describe('decideRoute', () => {
  const page = (name: string, fullPath: string, action?: Action, query: Record<string, unknown> = {}) => ({ name, fullPath, action, query });
  const out = { needsSignIn: true, role: null };
  const viewer = { needsSignIn: false, role: 'viewer' };
  const admin = { needsSignIn: false, role: 'admin' };

  it('sends a visitor without a token to sign-in, keeping where they were going', () => {
    expect(decideRoute(page('job', '/jobs/x?page=2'), out)).toEqual({ kind: 'signin', redirect: '/jobs/x?page=2' });
    expect(decideRoute(page('signin', '/signin'), out)).toEqual({ kind: 'go' });
  });

  it('skips the sign-in page when signed in or when no token is required', () => {
    expect(decideRoute(page('signin', '/signin?redirect=/audit', undefined, { redirect: '/audit' }), admin)).toEqual({
      kind: 'skip-signin',
      to: '/audit',
    });
    expect(decideRoute(page('signin', '/signin', undefined, { redirect: 'https://evil.example' }), admin)).toEqual({
      kind: 'skip-signin',
      to: '/jobs',
    });
  });

  it('keeps a role out of the pages it may not use', () => {
    expect(decideRoute(page('jobs', '/jobs'), viewer)).toEqual({ kind: 'go' });
    expect(decideRoute(page('job-new', '/jobs/new', 'create_job'), viewer)).toEqual({ kind: 'forbidden', action: 'create_job' });
    expect(decideRoute(page('tokens', '/tokens', 'manage_tokens'), { needsSignIn: false, role: 'operator' })).toEqual({
      kind: 'forbidden',
      action: 'manage_tokens',
    });
    expect(decideRoute(page('audit', '/audit', 'read_audit'), admin)).toEqual({ kind: 'go' });
  });
});
