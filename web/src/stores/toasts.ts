// Short-lived notices for actions (trigger, pause, delete...), announced to screen readers.
import { reactive } from 'vue';

export interface Toast {
  id: number;
  kind: 'success' | 'danger' | 'info';
  text: string;
}

export const toasts = reactive<Toast[]>([]);
let seq = 0;

export function notify(text: string, kind: Toast['kind'] = 'success', ms = 4000): void {
  const id = ++seq;
  toasts.push({ id, kind, text });
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}
