// An in-memory Backend for tests only: canned answers, recorded calls, and a
// way to push core events to whoever subscribed. One file per domain; this one
// puts them together and exports every name the tests use.
import type { App } from 'vue'
import { createPinia, type Pinia } from 'pinia'
import { provideBackend, type Backend, type Overview } from '../../backend'
import { clone } from './core'
import { overview } from './overview'
import { FakeRemote } from './remote'

export { linkRequest, linkView, PROVIDER_KEYS, providerInfo, userView } from './accounts'
export type {
  AccountsCommand,
  Command,
  ConnectionCommand,
  OcrCommand,
  OrdersCommand,
  OverviewCommand,
  SchedulerCommand,
} from './commands'
export { appInfo, component, FAKE_ACTOR, report, staffMember } from './core'
export { fireTime, job, jobRun, schedulerInstance, taskKind } from './jobs'
export { callSamples, idCardFront, ocrRequest, ocrStats } from './ocr'
export { cancelledOrder, goods, order, orderEvent } from './orders'
export { overview } from './overview'
export { connectionStatus, remoteConnection, sessionView } from './remote'

/** The whole fake: each domain is a layer of the class (core, scheduler, OCR, orders, accounts, remote),
 *  so that a test sets and reads every field on one object. */
export class FakeBackend extends FakeRemote implements Backend {
  /** What `overview()` answers (a test sets it, or `{ reject }`). */
  overviewData: Overview | { reject: unknown } = overview()

  async overview(): Promise<Overview> {
    this.record('overview')
    const data = this.overviewData
    if ('reject' in data) throw data.reject
    return clone(data)
  }
}

/** Plugins for test-utils' `global.plugins`: the fake backend, then a fresh Pinia. */
export function backendPlugins(backend: Backend): { pinia: Pinia; plugins: [{ install(app: App): void }, Pinia] } {
  const pinia = createPinia()
  return { pinia, plugins: [{ install: (app: App) => provideBackend(app, backend) }, pinia] }
}

