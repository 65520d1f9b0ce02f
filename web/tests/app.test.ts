// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createMemoryHistory, createRouter } from 'vue-router';
import App from '@/App.vue';
import { TOKEN_KEY } from '@/lib/auth';
import { refusal } from '@/stores/refusal';
import { session } from '@/stores/session';

async function mountApp(state: Partial<typeof session.state>) {
  Object.assign(session.state, { loaded: true, required: true, insecureNoAuth: false, token: null, principal: null, loadError: null }, state);
  const stub = { template: '<div>page</div>' };
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/jobs', component: stub },
      { path: '/signin', name: 'signin', component: stub },
      { path: '/:rest(.*)*', component: stub },
    ],
  });
  await router.push('/jobs');
  const w = mount(App, { global: { plugins: [router] } });
  await flushPromises();
  return { w, router };
}

const links = (w: ReturnType<typeof mount>) => w.findAll('nav a, nav button').map((e) => e.text().trim()).filter(Boolean);

afterEach(() => {
  refusal.value = null;
  sessionStorage.clear();
});

describe('App navbar and banners', () => {
  it('shows a viewer its name and role and no control it may not use', async () => {
    const { w } = await mountApp({ token: 'hg_v.x', principal: { name: 'v', role: 'viewer' } });
    expect(w.get('[data-testid="principal-name"]').text()).toBe('v');
    expect(w.get('[data-testid="principal-role"]').text()).toBe('viewer');
    expect(links(w)).toEqual(['Hourglass', 'Dashboard', 'Jobs', 'Cluster', 'Sign out']);
    w.unmount();
  });

  it('gives an admin the admin pages and the create button', async () => {
    const { w } = await mountApp({ token: 'hg_admin.x', principal: { name: 'admin', role: 'admin' } });
    expect(links(w)).toEqual(['Hourglass', 'Dashboard', 'Jobs', 'Cluster', 'Tokens', 'Audit', 'New job', 'Sign out']);
    w.unmount();
  });

  it('shows no sign-out without required tokens (the anonymous admin of `hourglass dev`)', async () => {
    const { w } = await mountApp({ required: false, principal: { name: 'anonymous', role: 'admin' } });
    expect(w.find('[data-testid="principal"]').exists()).toBe(false);
    expect(links(w)).toContain('New job');
    expect(links(w)).not.toContain('Sign out');
    w.unmount();
  });

  it('offers nothing but the brand before sign-in', async () => {
    const { w } = await mountApp({ principal: null });
    expect(links(w)).toEqual(['Hourglass']);
    w.unmount();
  });

  it('signs out: the token is forgotten and the sign-in page shown', async () => {
    sessionStorage.setItem(TOKEN_KEY, 'hg_v.x');
    const { w, router } = await mountApp({ token: 'hg_v.x', principal: { name: 'v', role: 'operator' } });
    await w.get('nav button.btn-outline-light').trigger('click');
    await flushPromises();
    expect(sessionStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(session.state.token).toBeNull();
    expect(router.currentRoute.value.name).toBe('signin');
    w.unmount();
  });

  it('keeps a red banner while the server runs with --insecure-no-auth', async () => {
    const { w } = await mountApp({ required: false, insecureNoAuth: true, principal: { name: 'anonymous', role: 'admin' } });
    const banner = w.get('[data-testid="insecure-banner"]');
    expect(banner.text()).toBe('Authentication is off beyond loopback (--insecure-no-auth)');
    expect(banner.classes()).toContain('alert-danger');
    w.unmount();
    const { w: w2 } = await mountApp({ required: true, principal: { name: 'v', role: 'viewer' } });
    expect(w2.find('[data-testid="insecure-banner"]').exists()).toBe(false);
    w2.unmount();
  });

  it('shows a refusal as a dismissible alert', async () => {
    const { w } = await mountApp({ token: 'hg_v.x', principal: { name: 'v', role: 'viewer' } });
    refusal.value = 'Not allowed: token "v" has role viewer; this needs operator';
    await flushPromises();
    expect(w.get('[data-testid="refusal-alert"]').text()).toContain('this needs operator');
    await w.get('[data-testid="refusal-alert"] button').trigger('click');
    expect(w.find('[data-testid="refusal-alert"]').exists()).toBe(false);
    w.unmount();
  });
});
