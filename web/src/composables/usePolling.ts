// Polling that never overlaps itself: the next call is scheduled only after the previous one
// settles, and the pause between calls grows with how long a call takes (a 10,000-job list costs
// the browser and the master far more than a 10-job one), so a slow server or a huge answer gets
// fewer requests instead of a pile-up.
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue';
import { ApiError } from '@/api/client';

export const POLL_MS = 1500;
/** The pause is at least this many times the last call's duration... */
export const POLL_BACKOFF_FACTOR = 3;
/** ...but never longer than this. */
export const POLL_MAX_MS = 10_000;

/** Pause before the next call, given the base interval and the last call's duration. */
export function nextPollDelay(intervalMs: number, lastDurationMs: number): number {
  return Math.min(Math.max(intervalMs, POLL_BACKOFF_FACTOR * lastDurationMs), Math.max(intervalMs, POLL_MAX_MS));
}

export interface Poller {
  /** Message of the last failure; null after a success. */
  error: Ref<string | null>;
  /** True until the first call settles. */
  loading: Ref<boolean>;
  lastUpdated: Ref<number | null>;
  /** Runs the task now (or right after the running call) and restarts the interval. */
  refresh: () => Promise<void>;
  stop: () => void;
  start: () => void;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function usePolling(task: () => Promise<void>, intervalMs = POLL_MS): Poller {
  const error = ref<string | null>(null);
  const loading = ref(true);
  const lastUpdated = ref<number | null>(null);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;
  let lastDuration = 0;

  // A hidden tab does not poll; it catches up the moment it is shown again.
  const hidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = stopped || hidden() ? null : setTimeout(() => void run(), nextPollDelay(intervalMs, lastDuration));
  };
  const onVisibility = () => {
    if (!stopped && !hidden() && !timer && !running) void run();
  };

  const run = async (): Promise<void> => {
    if (running) return running;
    running = (async () => {
      const t0 = performance.now();
      try {
        await task();
        error.value = null;
        lastUpdated.value = Date.now();
      } catch (err) {
        error.value = errorText(err);
      } finally {
        lastDuration = performance.now() - t0;
        loading.value = false;
        running = null;
        schedule();
      }
    })();
    return running;
  };

  const start = () => {
    if (!stopped) return;
    stopped = false;
    void run();
  };
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const refresh = async () => {
    if (running) await running;
    if (timer) clearTimeout(timer);
    await run();
  };

  onMounted(() => {
    document.addEventListener('visibilitychange', onVisibility);
    start();
  });
  onBeforeUnmount(() => {
    document.removeEventListener('visibilitychange', onVisibility);
    stop();
  });
  return { error, loading, lastUpdated, refresh, stop, start };
}
