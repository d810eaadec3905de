import { afterEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import ErrorBanner from '../components/ErrorBanner.vue'
import i18n, { applyLocale } from '../i18n'

afterEach(() => applyLocale('en'))

const unreachable = {
  code: 'server_unreachable',
  message: 'error sending request for url (https://ops.example.com/api/v1/session)',
  params: { server: 'https://ops.example.com' },
} as const

function mountBanner() {
  return mount(ErrorBanner, {
    props: { error: unreachable, title: 'Could not check who is signed in:' },
    global: { plugins: [i18n] },
  })
}

describe('ErrorBanner', () => {
  it('says the sentence only: the raw code is in the tooltip, not a line of its own', () => {
    const w = mountBanner()
    expect(w.text()).not.toContain('server_unreachable')
    expect(w.get('[data-testid="error-message"]').text()).toBe(
      'The server https://ops.example.com cannot be reached (refused, timed out, or its certificate is not trusted).',
    )
    expect(w.get('[data-testid="error-message"]').attributes('title')).toBe('Error code: server_unreachable')
    expect(w.get('[data-testid="error-banner"]').attributes('data-code')).toBe('server_unreachable')
  })

  it('in Chinese too', async () => {
    applyLocale('zh-CN')
    const w = mountBanner()
    expect(w.text()).not.toContain('server_unreachable')
    expect(w.get('[data-testid="error-message"]').text()).toBe('无法连接服务器 https://ops.example.com（被拒绝、超时，或其证书不受信任）。')
    expect(w.get('[data-testid="error-message"]').attributes('title')).toBe('错误代码：server_unreachable')
  })
})
