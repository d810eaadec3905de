import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import InstancesStrip from '../components/jobs/InstancesStrip.vue'
import type { SchedulerInstance } from '../backend'
import { useConnectionStore } from '../stores/connection'
import { backendPlugins, FakeBackend, remoteConnection } from './fakeBackend'

let backend: FakeBackend

const self: SchedulerInstance = {
  id: 'host-1:4242',
  started_at: '2026-01-10T02:00:00Z',
  last_seen: '2026-01-10T02:30:00Z',
  is_self: true,
  runs_in_progress: 0,
}

async function mountStrip() {
  const { plugins } = backendPlugins(backend)
  const wrapper = mount(InstancesStrip, { props: { instances: [self], zone: 'Asia/Shanghai' }, global: { plugins } })
  await useConnectionStore().start()
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  backend = new FakeBackend()
})

describe('InstancesStrip', () => {
  it('names the instance that answers "this console" when the core is this computer’s', async () => {
    const wrapper = await mountStrip()
    expect(wrapper.get('[data-testid="instance-self"]').text()).toBe('this console')
  })

  it('writes its times as the rest of the console does, in the zone given, not as ISO text', async () => {
    const wrapper = await mountStrip()
    const seen = wrapper.get('[data-testid="scheduler-instance"] time')
    expect(seen.text()).toBe('Jan 10, 2026, 10:30:00')
    expect(seen.attributes('title')).toBe('Jan 10, 2026, 10:30:00 +08:00 (started Jan 10, 2026, 10:00:00 +08:00)')
    expect(seen.attributes('datetime')).toBe('2026-01-10T02:30:00Z')
  })

  it('names it the server’s in remote mode: this desktop runs no scheduler', async () => {
    backend.connection = remoteConnection()
    const wrapper = await mountStrip()
    expect(wrapper.get('[data-testid="instance-self"]').text()).toBe('the server this console uses')
  })
})
