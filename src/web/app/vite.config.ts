import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web app: React pages under src/web/app, built into dist/web, which the tagpay process serves
 * (src/web/routes.ts). No dev server is needed: `npm run build:web` takes a few seconds.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  // Vite's own JSX transform (Oxc) with React's automatic runtime; no plugin needed for a build.
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'app',
    sourcemap: true,
    // One small app: no module preload polyfill (it would be an inline script the CSP forbids).
    modulePreload: { polyfill: false },
  },
});
