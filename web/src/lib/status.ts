// Colours and words for execution statuses (Bootstrap contextual classes).
import type { ExecutionStatus } from '@/api/types';

const BADGE: Record<ExecutionStatus, string> = {
  scheduled: 'text-bg-info',
  running: 'text-bg-primary',
  success: 'text-bg-success',
  failed: 'text-bg-danger',
  timeout: 'text-bg-warning',
  killed: 'text-bg-dark',
  missed: 'text-bg-danger',
  skipped: 'text-bg-secondary',
};

/** Chart colours, matching the badges. */
export const STATUS_COLORS: Record<ExecutionStatus, string> = {
  scheduled: '#0dcaf0',
  running: '#0d6efd',
  success: '#198754',
  failed: '#dc3545',
  timeout: '#ffc107',
  killed: '#212529',
  missed: '#d63384',
  skipped: '#6c757d',
};

export function statusBadgeClass(s: string | null | undefined): string {
  return (s && BADGE[s as ExecutionStatus]) || 'text-bg-light';
}

/** Optional link to a trace viewer: `VITE_TRACE_URL` at build time, e.g. "http://jaeger:16686/trace/{trace_id}". */
export function traceUrl(traceId: string | null | undefined): string | null {
  if (!traceId) return null;
  const tmpl = (import.meta.env.VITE_TRACE_URL as string | undefined) ?? '';
  return tmpl ? tmpl.replace('{trace_id}', encodeURIComponent(traceId)) : null;
}
