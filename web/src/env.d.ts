/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Trace viewer URL template with "{trace_id}", e.g. "http://jaeger:16686/trace/{trace_id}". */
  readonly VITE_TRACE_URL?: string;
}
