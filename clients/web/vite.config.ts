// The web app's build and dev server. `vite build` writes dist/ (index.html and hashed files under dist/assets/),
// which the gateway serves at `/`; `vite` (pnpm --filter @lms/web dev) serves the app with hot reload and proxies the
// API paths to a running LMS (LMS_URL, default http://localhost:3000).
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const lms = process.env.LMS_URL ?? 'http://localhost:3000';
const proxied = ['/trpc', '/api', '/health', '/.well-known', '/openapi.json', '/docs', '/verify'];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Budget is checked by the end-to-end test (initial JavaScript, gzipped); sourcemaps stay out of what is served.
    sourcemap: false,
    target: 'es2022',
    // No inline <script> in index.html (the CSP has no 'unsafe-inline'): the modulepreload polyfill is not needed by
    // the browsers we support and would be inlined.
    modulePreload: { polyfill: false },
  },
  server: {
    port: 5173,
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: lms, changeOrigin: true }])),
  },
});
