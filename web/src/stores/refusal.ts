// The last 403 (the role may not) or 429 (rate limit) answer, shown as one alert under the
// navbar until dismissed or the route changes; a newer refusal replaces it (polling does not
// stack alerts).
import { ref } from 'vue';
import type { ApiError } from '@/api/client';
import { refusalText } from '@/lib/auth';

export const refusal = ref<string | null>(null);

export function reportRefusal(err: ApiError): void {
  const text = refusalText(err);
  if (text) refusal.value = text;
}

export function showRefusal(text: string): void {
  refusal.value = text;
}

export function clearRefusal(): void {
  refusal.value = null;
}
