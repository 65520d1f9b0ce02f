// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createMemoryHistory, createRouter } from 'vue-router';
import { api, ApiError } from '@/api';
import DashboardView from '@/views/DashboardView.vue';

// Chart.js needs a canvas context happy-dom does not have; the chart is not what is tested here.
vi.mock('@/components/RunsChart.vue', () => ({ default: { props: ['buckets', 'label'], template: '<div data-testid="chart" />' } }));

async function mountDashboard() {
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:p(.*)*', component: { template: '<div />' } }] });
  await router.push('/dashboard');
  const w = mount(DashboardView, { global: { plugins: [router] } });
  await flushPromises();
  return w;
}

afterEach(() => vi.restoreAllMocks());

describe('DashboardView', () => {
  it('shows the numbers of one GET /stats and links the failing and missed jobs', async () => {
    const stats = vi.spyOn(api, 'stats').mockResolvedValue({
      window_seconds: 900,
      generated_at: new Date().toISOString(),
      complete: true,
      per_minute: [],
      totals: { succeeded: 10, failed: 2, timeout: 1, killed: 0, skipped: 0, missed: 3, lost: 1, runs: 17 },
      lag_ms: { p50: 4, p90: 20, p99: 250, max: 1500 },
      failing_jobs: [{ name: 'bill ing', failures: 3, last_failure_at: new Date().toISOString() }],
      missed_jobs: [{ name: 'nightly', missed: 3, last_missed_at: new Date().toISOString() }],
      workers: { count: 2, in_flight: 3, capacity: 8 },
    });
    const w = await mountDashboard();
    expect(stats).toHaveBeenCalledTimes(1);
    expect(stats).toHaveBeenCalledWith('15m');
    const t = (id: string) => w.get(`[data-testid="${id}"]`).text();
    expect(t('stats-runs')).toBe('17');
    expect(t('stats-failures')).toBe('3');
    expect(t('stats-lost')).toContain('1 run lost its worker');
    expect(t('stats-missed')).toBe('3');
    expect(t('lag-p99')).toBe('250 ms');
    expect(t('stats-in-flight')).toBe('3 / 8');
    expect(w.get('[data-testid="failing-table"] a').attributes('href')).toBe('/jobs/bill%20ing');
    expect(w.get('[data-testid="missed-table"] a').text()).toBe('nightly');
    w.unmount();
  });

  it('asks for the window in the URL and names the nodes of an incomplete window', async () => {
    const stats = vi.spyOn(api, 'stats').mockResolvedValue({ window_seconds: 3600, complete: false, incomplete_nodes: ['worker-b'] });
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:p(.*)*', component: { template: '<div />' } }] });
    await router.push('/dashboard?window=1h');
    const w = mount(DashboardView, { global: { plugins: [router] } });
    await flushPromises();
    expect(stats).toHaveBeenLastCalledWith('1h');
    expect(w.get('[data-testid="stats-incomplete"]').text()).toContain('worker-b');
    await w.findAll('button').find((b) => b.text() === '24h')!.trigger('click');
    await flushPromises();
    expect(router.currentRoute.value.query).toEqual({ window: '24h' });
    expect(stats).toHaveBeenLastCalledWith('24h');
    w.unmount();
  });

  it('says stats are unavailable when the server has no /stats, and stops asking', async () => {
    const stats = vi.spyOn(api, 'stats').mockRejectedValue(new ApiError(404, 'not_found', 'no route'));
    const w = await mountDashboard();
    expect(w.get('[data-testid="stats-unavailable"]').text()).toContain('Stats unavailable');
    expect(w.find('.alert-danger').exists()).toBe(false);
    expect(stats).toHaveBeenCalledTimes(1);
    w.unmount();
  });
});
