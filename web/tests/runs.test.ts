// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { END_REASONS, type Execution } from '@/api/types';
import RunAttempts from '@/components/RunAttempts.vue';
import RunDetails from '@/components/RunDetails.vue';
import { attemptError, reasonHelp, reasonText, resultText, workerLossPolicy } from '@/lib/runs';

describe('reason wording', () => {
  it('words every end reason the server writes', () => {
    expect(reasonText('worker_lost')).toBe('worker lost');
    expect(reasonText('no_worker')).toBe('no worker available');
    expect(reasonText('job_deleted')).toBe('job deleted before it started');
    expect(reasonText('session_lost')).toBe('session lost');
    expect(reasonText('missed_counted')).toBe('earlier misses counted');
    for (const r of END_REASONS) {
      expect(reasonText(r)).not.toContain('_');
      expect(reasonHelp(r)).not.toBe('');
    }
  });

  it('shows nothing for no reason and a newer server’s reason as sent', () => {
    expect(reasonText(undefined)).toBeNull();
    expect(reasonText('')).toBeNull();
    expect(reasonText('brand_new_reason')).toBe('brand new reason');
    expect(reasonHelp('brand_new_reason')).toBe('');
  });

  it('drops an attempt error that only repeats its reason', () => {
    expect(attemptError({ error: 'worker lost', reason: 'worker_lost' })).toBe('');
    expect(attemptError({ error: 'exit status 3', reason: undefined })).toBe('exit status 3');
    expect(attemptError({ error: 'no worker available (none match)', reason: 'no_worker' })).toBe('no worker available (none match)');
  });

  it('formats a result and the worker-loss policy', () => {
    expect(resultText({ http_status: 503, exit_code: null })).toBe('HTTP 503');
    expect(resultText({ exit_code: 0 })).toBe('exit 0');
    expect(resultText({})).toBe('—');
    expect(workerLossPolicy({ retry_on_worker_loss: false, retry_policy: { max_retries: 3 } })).toMatch(/at-most-once/);
    expect(workerLossPolicy({ retry_on_worker_loss: true, retry_policy: { max_retries: 3 } })).toMatch(/at-least-once/);
    expect(workerLossPolicy({ retry_policy: { max_retries: 2 } })).toMatch(/at-least-once/);
    expect(workerLossPolicy({ retry_on_worker_loss: true, retry_policy: { max_retries: 0 } })).toMatch(/fails: retries are 0/);
  });
});

const retried: Execution = {
  id: 'nightly@1767225600000',
  job_name: 'nightly',
  status: 'success',
  scheduled_time: '2026-01-01T00:00:00Z',
  start_time: '2026-01-01T00:00:40Z',
  end_time: '2026-01-01T00:00:45Z',
  attempt: 3,
  retries_attempted: 2,
  worker_id: 'w3',
  exit_code: 0,
  output: 'done',
  attempts: [
    {
      attempt: 1,
      worker_id: 'w1',
      status: 'failed',
      start_time: '2026-01-01T00:00:00Z',
      end_time: '2026-01-01T00:00:30Z',
      exit_code: null,
      http_status: null,
      error: 'worker lost',
      reason: 'worker_lost',
    },
    {
      attempt: 2,
      worker_id: 'w2',
      status: 'failed',
      start_time: '2026-01-01T00:00:31Z',
      end_time: '2026-01-01T00:00:33Z',
      exit_code: 3,
      http_status: null,
      error: 'exit status 3',
    },
  ],
};

describe('RunAttempts', () => {
  it('lists each earlier attempt with worker, status, duration, result, error and reason', () => {
    const w = mount(RunAttempts, { props: { attempts: retried.attempts ?? [] } });
    const rows = w.findAll('tbody tr');
    expect(rows.map((r) => r.attributes('data-attempt'))).toEqual(['1', '2']);
    const first = rows[0]?.findAll('td').map((td) => td.text()) ?? [];
    expect(first[0]).toBe('1');
    expect(first[1]).toBe('w1');
    expect(first[2]).toContain('failed');
    expect(first[2]).toContain('worker lost');
    expect(first[4]).toContain('(30 s)');
    expect(first[5]).toBe('—');
    expect(first[6]).toBe('—'); // "worker lost" is the reason badge, not repeated as the error
    expect(rows[0]?.find('[data-testid="attempt-reason"]').attributes('title')).toMatch(/session expired/);
    const second = rows[1]?.findAll('td').map((td) => td.text()) ?? [];
    expect(second[1]).toBe('w2');
    expect(second[5]).toBe('exit 3');
    expect(second[6]).toBe('exit status 3');
    expect(rows[1]?.find('[data-testid="attempt-reason"]').exists()).toBe(false);
    w.unmount();
  });
});

describe('RunDetails', () => {
  it('shows earlier attempts under the run, and no reason row when there is none', () => {
    const w = mount(RunDetails, { props: { run: retried } });
    expect(w.text()).toContain('Earlier attempts (2)');
    expect(w.findAll('[data-testid="run-attempts"] tbody tr')).toHaveLength(2);
    expect(w.find('[data-testid="run-reason"]').exists()).toBe(false);
    w.unmount();
  });

  it('shows the typed reason in words, and no attempts table for a first attempt', () => {
    const { attempts: _, ...firstAttempt } = retried;
    const run: Execution = { ...firstAttempt, status: 'killed', error: 'killed: job deleted', reason: 'job_deleted' };
    const w = mount(RunDetails, { props: { run } });
    expect(w.find('[data-testid="run-reason"]').text()).toContain('job deleted before it started');
    expect(w.find('[data-testid="run-attempts"]').exists()).toBe(false);
    expect(w.text()).not.toContain('Earlier attempts');
    w.unmount();
  });
});
