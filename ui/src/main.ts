import { createApp } from 'vue'
import { createPinia } from 'pinia'
import './styles.css'
import App from './App.vue'
import OutsideDesktop from './components/OutsideDesktop.vue'
import { provideBackend } from './backend'
import { createTauriBackend, isTauriRuntime } from './backend/tauri'
import { i18n } from './i18n'
import { createAppRouter } from './router'

if (isTauriRuntime()) {
  const app = createApp(App)
  provideBackend(app, createTauriBackend())
  app.use(createPinia())
  app.use(i18n)
  app.use(createAppRouter())
  app.mount('#app')
} else {
  // No core to talk to: say so plainly rather than show made-up data.
  createApp(OutsideDesktop).use(i18n).mount('#app')
}
