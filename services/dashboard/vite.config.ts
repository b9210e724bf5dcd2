// Vite builds the browser app in src/web into dist/web, which the gateway serves at `/`
// (a tool-mandated default export). Everything is bundled: the dashboard works offline.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // relative asset URLs: the gateway may serve the dashboard under any path
  base: './',
  build: {
    outDir: 'dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
});
