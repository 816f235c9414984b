import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The dashboard's build (docs/dashboard.md): Preact through esbuild's automatic JSX runtime, no
 * plugin. `scripts/build-web.mjs` runs it with the output folder of its caller (`dist/web` for
 * `npm run build`); the service serves that folder at `/`.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2022',
    emptyOutDir: true,
    // Chromium, Firefox and Safari all support <link rel="modulepreload">: no polyfill needed.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
  },
});
