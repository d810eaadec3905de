/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// Tauri 2 loads the built files from `dist/` and, in development, the dev
// server on a fixed port. The WebView is WebKitGTK on Linux, hence `safari15`.
// A strict CSP applies (`script-src 'self'; style-src 'self'`), so nothing
// here may produce inline scripts; SFC styles are extracted to CSS files.
const tauriDevHost = process.env.TAURI_DEV_HOST

export default defineConfig({
  plugins: [vue()],
  // vue-i18n's build flags: Composition API only (the legacy API is left out of the bundle);
  // messages are compiled at run time to an AST and interpreted, never with `new Function`.
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __INTLIFY_DROP_MESSAGE_COMPILER__: false,
  },
  clearScreen: false,
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  server: {
    port: 1420,
    strictPort: true,
    host: tauriDevHost || false,
    hmr: tauriDevHost ? { protocol: 'ws', host: tauriDevHost, port: 1421 } : undefined,
    watch: {
      // The Rust side lives next door; its rebuilds must not reload the UI.
      ignored: ['**/src-tauri/**', '**/target/**'],
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari15',
    cssCodeSplit: false,
    // The module-preload polyfill is not needed in WebKitGTK and keeps the
    // output free of anything that looks like an inline script.
    modulePreload: { polyfill: false },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.{spec,test}.ts'],
    setupFiles: ['src/__tests__/setup.ts'],
    restoreMocks: true,
  },
})
