// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createMemoryHistory, createRouter } from 'vue-router';
import { api, type Job, type JobsFilter } from '@/api';
import { session } from '@/stores/session';
import JobsView from '@/views/JobsView.vue';

const job = (name: string): Job => ({ name, cron_expr: '0 0 3 * * *', executor_type: 'shell', executor: { command: 'true' } });

async function mountAt(url: string, role = 'admin') {
  Object.assign(session.state, { loaded: true, required: false, token: null, principal: { name: 'x', role } });
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/jobs', component: JobsView },
      { path: '/jobs/:name', component: { template: '<div />' } },
    ],
  });
  await router.push(url);
  const w = mount({ template: '<RouterView />' }, { global: { plugins: [router] }, attachTo: document.body });
  await flushPromises();
  return { w, router };
}

afterEach(() => {
  vi.restoreAllMocks();
  document.body.innerHTML = '';
});

describe('JobsView', () => {
  it('asks the server for the page in the URL and pages by cursor', async () => {
    const list = vi.spyOn(api, 'listJobsPage').mockImplementation(async (_limit, cursor) =>
      cursor ? { jobs: [job('web-3')], nextCursor: null } : { jobs: [job('web-1'), job('web-2')], nextCursor: 'web-2' },
    );
    const { w, router } = await mountAt('/jobs?prefix=web-&label=team%3Dops&status=paused&size=100');
    expect(list).toHaveBeenLastCalledWith(100, null, { prefix: 'web-', labels: ['team=ops'], status: 'paused' } satisfies JobsFilter);
    const rows = () => w.findAll('tr[data-job]').map((r) => r.attributes('data-job'));
    expect(rows()).toEqual(['web-1', 'web-2']);
    expect((w.get('#jobs-prefix').element as HTMLInputElement).value).toBe('web-');
    expect((w.get('#jobs-label').element as HTMLInputElement).value).toBe('team=ops');

    await w.get('button[aria-label="Next page"]').trigger('click');
    await flushPromises();
    expect(router.currentRoute.value.query).toMatchObject({ prefix: 'web-', cursor: 'web-2', size: '100' });
    expect(list).toHaveBeenLastCalledWith(100, 'web-2', expect.objectContaining({ prefix: 'web-' }));
    expect(rows()).toEqual(['web-3']);
    expect(w.get('button[aria-label="Next page"]').attributes('disabled')).toBeDefined();
    w.unmount();
  });

  it('sends a typed prefix to the URL and starts over at the first page', async () => {
    vi.useFakeTimers();
    const list = vi.spyOn(api, 'listJobsPage').mockResolvedValue({ jobs: [], nextCursor: null });
    const { w, router } = await mountAt('/jobs?cursor=m');
    await w.get('#jobs-prefix').setValue('db-');
    await vi.advanceTimersByTimeAsync(200);
    await flushPromises();
    expect(router.currentRoute.value.query).toEqual({ prefix: 'db-' });
    expect(list).toHaveBeenLastCalledWith(50, null, expect.objectContaining({ prefix: 'db-' }));
    // An incomplete label selector stays out of the URL and says why.
    await w.get('#jobs-label').setValue('team');
    await vi.advanceTimersByTimeAsync(200);
    expect(router.currentRoute.value.query).toEqual({ prefix: 'db-' });
    expect(w.get('.invalid-feedback').text()).toContain('"team" is not key=value');
    // ...while the prefix typed next to it still applies.
    await w.get('#jobs-prefix').setValue('db-2');
    await vi.advanceTimersByTimeAsync(200);
    expect(router.currentRoute.value.query).toEqual({ prefix: 'db-2' });
    vi.useRealTimers();
    w.unmount();
  });

  it('bulk-pauses the selected page after a confirmation naming them, and reports failures', async () => {
    vi.spyOn(api, 'listJobsPage').mockResolvedValue({ jobs: ['a', 'b', 'c'].map(job), nextCursor: null });
    const pause = vi.spyOn(api, 'pause').mockImplementation(async (n) => {
      if (n === 'b') throw Object.assign(new Error('job "b" not found'), { name: 'ApiError' });
    });
    const { w } = await mountAt('/jobs', 'operator');
    expect(w.findAll('[role="toolbar"] button').map((b) => b.text())).toEqual(['Pause selected', 'Resume selected', 'Trigger selected']);
    await w.get('input[aria-label="Select all jobs on this page"]').setValue(true);
    expect(w.get('[data-testid="selected-count"]').text()).toBe('3 selected');
    await w.findAll('[role="toolbar"] button').find((b) => b.text() === 'Pause selected')!.trigger('click');
    await flushPromises();
    expect(document.querySelector('[data-testid="bulk-question"]')?.textContent).toBe('Pause 3 jobs: a, b, c?');
    (document.querySelector('[data-testid="confirm"]') as HTMLButtonElement).click();
    await flushPromises();
    expect(pause.mock.calls.map((c) => c[0]).sort()).toEqual(['a', 'b', 'c']);
    const result = w.get('[data-testid="bulk-result"]').text();
    expect(result).toContain('Paused 2 of 3 jobs; 1 failed');
    expect(result).toContain('b: job "b" not found');
    // The failed one stays selected, to retry.
    expect(w.get('[data-testid="selected-count"]').text()).toBe('1 selected');
    w.unmount();
  });

  it('shows a viewer no selection and no bulk action', async () => {
    vi.spyOn(api, 'listJobsPage').mockResolvedValue({ jobs: [job('a')], nextCursor: null });
    const { w } = await mountAt('/jobs', 'viewer');
    expect(w.find('[role="toolbar"]').exists()).toBe(false);
    expect(w.find('input[type="checkbox"]').exists()).toBe(false);
    w.unmount();
  });
});
