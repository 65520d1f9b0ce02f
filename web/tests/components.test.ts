// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import ConfirmModal from '@/components/ConfirmModal.vue';
import FireTimes from '@/components/FireTimes.vue';
import TextField from '@/components/TextField.vue';

describe('FireTimes', () => {
  it('highlights the fire time after a DST change and shows the zone wall clock', () => {
    const w = mount(FireTimes, {
      props: {
        timezone: 'Europe/Berlin',
        times: ['2025-10-25T00:30:00Z', '2025-10-26T01:30:00Z', '2025-10-27T01:30:00Z'],
      },
    });
    const items = w.findAll('li');
    expect(items).toHaveLength(3);
    expect(items.map((li) => li.attributes('data-dst') ?? '')).toEqual(['', 'shifted', '']);
    expect(items[0]?.text()).toContain('2025-10-25 02:30:00 +02:00');
    expect(items[1]?.text()).toContain('2025-10-26 02:30:00 +01:00');
    expect(items[1]?.text()).toContain('clocks go back 1 h');
    w.unmount();
  });
});

describe('TextField', () => {
  it('links its label, error and help to the input', async () => {
    const w = mount(TextField, {
      props: { modelValue: 'x', field: 'retry_policy.backoff', label: 'Backoff', error: 'bad', help: 'e.g. 5s' },
    });
    const input = w.find('input');
    expect(input.attributes('id')).toBe('f-retry_policy-backoff');
    expect(w.find('label').attributes('for')).toBe('f-retry_policy-backoff');
    expect(input.attributes('aria-invalid')).toBe('true');
    expect(input.attributes('aria-describedby')).toBe('f-retry_policy-backoff-error f-retry_policy-backoff-help');
    expect(w.find('[data-error-for="retry_policy.backoff"]').text()).toBe('bad');
    await input.setValue('10s');
    expect(w.emitted('update:modelValue')?.[0]).toEqual(['10s']);
  });
});

describe('ConfirmModal', () => {
  it('renders only when shown, cancels on Escape and confirms on the button', async () => {
    const w = mount(ConfirmModal, { props: { show: false, title: 'Delete job' }, slots: { default: 'Sure?' }, attachTo: document.body });
    expect(document.querySelector('[role="dialog"]')).toBeNull();
    await w.setProps({ show: true });
    const dialog = document.querySelector('[role="dialog"]') as HTMLElement;
    expect(dialog).not.toBeNull();
    expect(dialog.textContent).toContain('Sure?');
    dialog.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(w.emitted('cancel')).toHaveLength(1);
    (document.querySelector('[data-testid="confirm"]') as HTMLButtonElement).click();
    expect(w.emitted('confirm')).toHaveLength(1);
    w.unmount();
  });
});
