import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The API lives on the same origin as the UI in production (the master serves both), so the dev
// server forwards every API prefix to a local `hourglass dev` on :8080.
const apiTarget = process.env.HOURGLASS_API ?? 'http://127.0.0.1:8080';
const apiPrefixes = ['/jobs', '/executions', '/cluster', '/cron', '/auth', '/tokens', '/audit', '/healthz', '/readyz', '/metrics'];

export default defineConfig({
  base: '/ui/',
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: Object.fromEntries(apiPrefixes.map((p) => [p, { target: apiTarget, changeOrigin: false }])),
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The build is small; rolldown's plugin-timing report is noise in the test log.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
});
