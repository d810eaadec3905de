import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory } from 'vue-router'
import App from '../App.vue'
import { applyLocale, detectLocale, i18n, LOCALE_STORAGE_KEY, messages, readPreference, resolveLocale } from '../i18n'
import en from '../i18n/en'
import overview from '../i18n/overview'
import zhCN from '../i18n/zh-CN'
import { createAppRouter } from '../router'
import { useLocaleStore } from '../stores/locale'
import JobsView from '../views/JobsView.vue'
import { backendPlugins, FakeBackend, fireTime, job, jobRun, schedulerInstance } from './fakeBackend'

/** Every leaf key of a message tree, as dotted paths. */
function keys(tree: unknown, prefix = ''): string[] {
  if (typeof tree !== 'object' || tree === null) return [prefix]
  return Object.entries(tree).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
}

let wrapper: VueWrapper | undefined

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('messages', () => {
  it('has exactly the same keys in English and Chinese', () => {
    expect(keys(zhCN).sort()).toEqual(keys(en).sort())
  })

  it('has exactly the same keys in both halves of the Overview page’s messages', () => {
    expect(keys(overview['zh-CN']).sort()).toEqual(keys(overview.en).sort())
  })

  it('merges the Overview page’s messages in under `overview`', () => {
    expect(messages.en.overview).toBe(overview.en)
    expect(messages['zh-CN'].overview).toBe(overview['zh-CN'])
    expect(keys(messages['zh-CN']).sort()).toEqual(keys(messages.en).sort())
  })

  it('has every message compile and translate in both languages', () => {
    for (const locale of ['en', 'zh-CN'] as const) {
      for (const key of keys(messages[locale])) {
        const text = i18n.global.t(key, {}, { locale })
        expect(typeof text, `${locale}: ${key}`).toBe('string')
        expect(text, `${locale}: ${key}`).not.toBe(key)
      }
    }
  })

  it('writes Chinese in Chinese', () => {
    const latinOnly = keys(zhCN).filter((key) => {
      const text = i18n.global.t(key, {}, { locale: 'zh-CN' })
      return /[a-z]{3}/i.test(text) && !/[\u4e00-\u9fff]/.test(text)
    })
    // Names, units and formats that read the same in both languages.
    expect(latinOnly.sort()).toEqual(
      [
        'app.name',
        'jobs.form.argsJson',
        'providers.oidc',
        'errors.values.provider.oidc',
        'statusBar.redis',
        'accounts.links.details',
        'accounts.links.detailsNick',
        'orders.goods.sku',
        'signIn.server.urlPlaceholder',
      ].sort(),
    )
  })
})

describe('the language preference', () => {
  it('auto picks Chinese for any Chinese OS language, else English', () => {
    for (const lang of ['zh-CN', 'zh-TW', 'zh-HK', 'zh', 'zh-Hans-CN', 'ZH-cn', 'zh_CN']) {
      expect(detectLocale([lang]), lang).toBe('zh-CN')
    }
    for (const lang of ['en-GB', 'en-US', 'en', 'fr-FR', 'ja-JP', 'zu']) {
      expect(detectLocale([lang]), lang).toBe('en')
    }
    expect(detectLocale([])).toBe('en')
    // The most preferred language decides.
    expect(detectLocale(['en-GB', 'zh-CN'])).toBe('en')
    expect(detectLocale(['zh-TW', 'en-US'])).toBe('zh-CN')
    expect(resolveLocale('auto', ['zh-TW'])).toBe('zh-CN')
    expect(resolveLocale('en', ['zh-TW'])).toBe('en')
    expect(resolveLocale('zh-CN', ['en-GB'])).toBe('zh-CN')
  })

  it('auto follows navigator.languages / navigator.language', () => {
    const languages = vi.spyOn(navigator, 'languages', 'get')
    const language = vi.spyOn(navigator, 'language', 'get')
    languages.mockReturnValue(['zh-TW'])
    expect(detectLocale()).toBe('zh-CN')
    languages.mockReturnValue(['en-GB'])
    expect(detectLocale()).toBe('en')
    languages.mockReturnValue([])
    language.mockReturnValue('zh-CN')
    expect(detectLocale()).toBe('zh-CN')
    language.mockReturnValue('en-GB')
    expect(detectLocale()).toBe('en')
  })

  it('reads the stored preference; auto when there is none or it is unknown', () => {
    expect(readPreference()).toBe('auto')
    localStorage.setItem(LOCALE_STORAGE_KEY, 'zh-CN')
    expect(readPreference()).toBe('zh-CN')
    localStorage.setItem(LOCALE_STORAGE_KEY, 'klingon')
    expect(readPreference()).toBe('auto')
  })

  it('the store applies the preference to vue-i18n and <html lang>, and stores it', () => {
    vi.spyOn(navigator, 'languages', 'get').mockReturnValue(['zh-CN'])
    setActivePinia(createPinia())
    const store = useLocaleStore()
    expect(store.preference).toBe('auto')
    expect(store.locale).toBe('zh-CN')
    expect(i18n.global.locale.value).toBe('zh-CN')
    expect(document.documentElement.lang).toBe('zh-CN')

    store.setPreference('en')
    expect(store.locale).toBe('en')
    expect(i18n.global.locale.value).toBe('en')
    expect(document.documentElement.lang).toBe('en')
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe('en')

    store.setPreference('auto')
    expect(store.locale).toBe('zh-CN')
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe('auto')
  })

  it('auto follows the OS language when it changes', () => {
    const languages = vi.spyOn(navigator, 'languages', 'get').mockReturnValue(['en-GB'])
    setActivePinia(createPinia())
    const store = useLocaleStore()
    expect(store.locale).toBe('en')
    languages.mockReturnValue(['zh-CN'])
    window.dispatchEvent(new Event('languagechange'))
    expect(store.locale).toBe('zh-CN')
    expect(i18n.global.locale.value).toBe('zh-CN')
  })
})

describe('Settings', () => {
  async function mountApp(path = '/settings') {
    const backend = new FakeBackend()
    const { plugins } = backendPlugins(backend)
    const router = createAppRouter(createMemoryHistory())
    await router.push(path)
    await router.isReady()
    wrapper = mount(App, { global: { plugins: [...plugins, router], stubs: { OcrCallsChart: true } } })
    await flushPromises()
    return wrapper
  }

  it('offers System, English and Chinese, and shows the configured time zone', async () => {
    const w = await mountApp()
    expect(w.get('[data-testid="page-title"]').text()).toBe('Settings')
    expect(w.get('[data-testid="nav-settings"]').text()).toBe('Settings')
    const select = w.get<HTMLSelectElement>('[data-testid="settings-language"]')
    expect(select.element.value).toBe('auto')
    const options = select.findAll('option')
    expect(options.map((o) => o.attributes('value'))).toEqual(['auto', 'en', 'zh-CN'])
    expect(options.map((o) => o.text())).toEqual(['System (English)', 'English', '中文（简体）'])
    expect(w.get('[data-testid="settings-timezone"]').text()).toBe('Europe/Berlin')
  })

  it('switches the whole console at once when a language is chosen, and remembers it', async () => {
    const w = await mountApp()
    const nav = () => w.get('[data-testid="nav-jobs"]').text()
    expect(nav()).toBe('Jobs')

    await w.get('[data-testid="settings-language"]').setValue('zh-CN')
    expect(nav()).toBe('任务')
    expect(w.get('[data-testid="nav-settings"]').text()).toBe('设置')
    expect(w.get('[data-testid="page-title"]').text()).toBe('设置')
    expect(w.get('[data-testid="status-database"]').text()).toContain('数据库：')
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe('zh-CN')
    expect(document.documentElement.lang).toBe('zh-CN')
    expect(document.title).toBe('设置 · OpsDeck')
    expect(w.get('[data-testid="settings-language"] option[value="auto"]').text()).toBe('跟随系统：English')

    await w.get('[data-testid="settings-language"]').setValue('en')
    expect(nav()).toBe('Jobs')
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe('en')
    expect(document.title).toBe('Settings · OpsDeck')

    await w.get('[data-testid="settings-language"]').setValue('auto')
    expect(nav()).toBe('Jobs') // jsdom's navigator says en-US
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe('auto')
  })

  it('starts in the stored language', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'zh-CN')
    const w = await mountApp('/jobs')
    expect(w.get('[data-testid="nav-jobs"]').text()).toBe('任务')
    expect(w.get('[data-testid="page-title"]').text()).toBe('任务')
  })
})

describe('the Jobs page in Chinese', () => {
  it('shows Chinese labels, words and dates', async () => {
    applyLocale('zh-CN')
    const backend = new FakeBackend()
    backend.jobs = [
      job({
        id: 1,
        name: 'nightly-report',
        trigger: { type: 'interval', every_seconds: 7200, start: null, end: null },
        trigger_text: 'every 2 hours from 2026-03-07 00:30:00',
        timezone: 'America/New_York',
        next_fires: [fireTime('2026-03-07T02:30:00-05:00'), fireTime('2026-03-08T03:00:00-04:00', 'gap_shifted')],
        last_run: jobRun({ id: 7, job_id: 1, outcome: 'failed' }),
        origin: 'default',
      }),
      job({ id: 2, name: 'sweep', paused: true, next_fires: [] }),
    ]
    backend.instances = [schedulerInstance({ id: 'inst-self', is_self: true, runs_in_progress: 2 })]
    const { plugins } = backendPlugins(backend)
    wrapper = mount(JobsView, { global: { plugins } })
    await flushPromises()
    const w = wrapper

    expect(w.get('[data-testid="page-title"]').text()).toBe('任务')
    expect(w.get('[data-testid="job-add"]').text()).toBe('添加一次性任务')
    expect(w.findAll('[data-testid="jobs-table"] th').map((th) => th.text())).toEqual([
      '任务',
      '调度计划',
      '接下来的运行',
      '上次运行',
      '状态',
      '操作',
    ])
    const report = w.get('[data-testid="job-row"][data-job-name="nightly-report"]')
    expect(report.get('[data-testid="job-trigger"]').text()).toBe('每 2 小时（自 2026-03-07 00:30:00 起）')
    expect(report.get('[data-testid="job-paused"]').text()).toBe('已启用') // not 运行中 (running), the word of a run
    expect(report.get('[data-testid="job-last-outcome"]').text()).toBe('失败')
    expect(report.get('[data-testid="job-run-now"]').text()).toBe('立即运行')
    expect(report.get('[data-testid="job-pause"]').text()).toBe('暂停')
    const fires = report.findAll('[data-testid="job-fire"]')
    expect(fires.map((f) => f.get('time').text())).toEqual(['2026-03-07 02:30:00 -05:00', '2026-03-08 03:00:00 -04:00'])
    expect(fires[1]?.text()).toContain('夏令时')
    expect(fires[1]?.attributes('title')).toContain('落在夏令时跳过的时段内')

    const sweep = w.get('[data-testid="job-row"][data-job-name="sweep"]')
    expect(sweep.get('[data-testid="job-paused"]').text()).toBe('已暂停')
    expect(sweep.get('[data-testid="job-trigger"]').text()).toBe('每 10 分钟')
    expect(sweep.get('[data-testid="job-resume"]').text()).toBe('恢复')

    expect(w.get('[data-testid="instance-self"]').text()).toBe('本控制台')
    expect(w.get('[data-testid="instance-runs"]').text()).toBe('执行中：2')
    expect(w.text()).toContain('运行记录')
  })
})
