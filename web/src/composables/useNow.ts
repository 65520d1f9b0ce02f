// One shared clock ref, ticking every second, so relative times ("in 5 s") stay current.
import { onBeforeUnmount, ref, type Ref } from 'vue';

const now = ref(Date.now());
let users = 0;
let timer: ReturnType<typeof setInterval> | null = null;

export function useNow(): Ref<number> {
  users++;
  if (!timer) timer = setInterval(() => (now.value = Date.now()), 1000);
  onBeforeUnmount(() => {
    users--;
    if (users === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  });
  return now;
}
