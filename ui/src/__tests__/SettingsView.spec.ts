import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import SettingsView from '../views/SettingsView.vue'
import { i18n, LOCALE_STORAGE_KEY } from '../i18n'
import { appInfo, backendPlugins, FakeBackend } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined

async function mountSettings() {
  const { plugins } = backendPlugins(backend)
  wrapper = mount(SettingsView, { global: { plugins } })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  backend = new FakeBackend()
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  localStorage.removeItem(LOCALE_STORAGE_KEY)
  i18n.global.locale.value = 'en'
})

describe('SettingsView providers', () => {
  it('says which providers are configured, faked or absent, and how to configure an absent one', async () => {
    backend.info = appInfo({
      providers: [
        { name: 'baidu', state: 'configured', keys: ['baidu_api_key', 'baidu_secret_key'] },
        { name: 'alipay', state: 'absent', keys: ['alipay_app_id', 'alipay_private_key', 'alipay_public_key'] },
        { name: 'weibo', state: 'sandbox', keys: ['weibo_client_id', 'weibo_client_secret'] },
      ],
    })
    const w = await mountSettings()
    const rows = w.findAll('[data-testid="settings-providers"] li')
    expect(rows.map((r) => [r.attributes('data-provider'), r.attributes('data-state')])).toEqual([
      ['baidu', 'configured'],
      ['alipay', 'absent'],
      ['weibo', 'sandbox'],
    ])
    const row = (name: string) => w.get(`[data-testid="settings-providers"] [data-provider="${name}"]`)
    const [baidu, alipay, weibo] = [row('baidu'), row('alipay'), row('weibo')]
    expect(baidu.text()).toContain('Baidu ID-card OCR')
    expect(baidu.find('.providers__how').exists()).toBe(false)
    expect(alipay.text()).toContain('not configured')
    expect(alipay.get('.providers__how').text()).toBe(
      'Set alipay_app_id, alipay_private_key, alipay_public_key in the configuration file, or OPSDECK_ALIPAY_APP_ID, OPSDECK_ALIPAY_PRIVATE_KEY, OPSDECK_ALIPAY_PUBLIC_KEY.',
    )
    expect(weibo.text()).toContain('built-in fake')
  })

  it('speaks Chinese too', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'zh-CN')
    const w = await mountSettings()
    const absent = w.get('[data-provider="alipay"]')
    expect(absent.text()).toContain('未配置')
    expect(absent.get('.providers__how').text()).toContain('OPSDECK_ALIPAY_APP_ID')
  })
})
