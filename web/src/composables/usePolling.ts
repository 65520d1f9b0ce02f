// Polling that never overlaps itself: the next call is scheduled only after the previous one
// settles, so a slow server gets fewer requests instead of a pile-up.
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue';
import { ApiError } from '@/api/client';

export const POLL_MS = 1500;

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

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = stopped ? null : setTimeout(() => void run(), intervalMs);
  };

  const run = async (): Promise<void> => {
    if (running) return running;
    running = (async () => {
      try {
        await task();
        error.value = null;
        lastUpdated.value = Date.now();
      } catch (err) {
        error.value = errorText(err);
      } finally {
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

  onMounted(start);
  onBeforeUnmount(stop);
  return { error, loading, lastUpdated, refresh, stop, start };
}
