// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { api, type AuditEntry } from '@/api';
import AuditView from '@/views/AuditView.vue';

const entry = (target: string, status = 204): AuditEntry => ({
  time: '2026-01-01T00:00:00Z',
  actor: 'admin',
  role: 'admin',
  method: 'DELETE',
  route: '/jobs/{name}',
  target,
  status,
  remote: '127.0.0.1',
});

afterEach(() => vi.restoreAllMocks());

describe('AuditView', () => {
  it('pages to older entries by cursor and back', async () => {
    const pages: Record<string, { entries: AuditEntry[]; nextCursor: string | null }> = {
      '': { entries: [entry('newest'), entry('second')], nextCursor: 'c1' },
      c1: { entries: [entry('oldest', 403)], nextCursor: null },
    };
    const audit = vi.spyOn(api, 'audit').mockImplementation(async (_limit, cursor) => pages[cursor ?? '']!);
    const w = mount(AuditView);
    await flushPromises();
    const targets = () => w.findAll('tr[data-target]').map((tr) => tr.attributes('data-target'));
    const button = (name: string) => w.findAll('button').find((b) => b.text() === name)!;
    expect(targets()).toEqual(['newest', 'second']);
    expect(button('Newer').attributes('disabled')).toBeDefined();

    await button('Older').trigger('click');
    await flushPromises();
    expect(audit).toHaveBeenLastCalledWith(50, 'c1');
    expect(targets()).toEqual(['oldest']);
    expect(button('Older').attributes('disabled')).toBeDefined();

    await button('Newer').trigger('click');
    await flushPromises();
    expect(audit).toHaveBeenLastCalledWith(50, null);
    expect(targets()).toEqual(['newest', 'second']);
    w.unmount();
  });
});
