// What the layout test measures inside the console's window: one script, run once per page through
// WebDriver's execute, returns every fault it finds as a readable record (where, what, the sizes),
// so a failure names exactly what is clipped where.
//
// A fault is:
// - `clipped`: a button, link, select, tab, table header or table cell whose content is wider than
//   its box (scrollWidth > clientWidth + 1), or, for buttons and selects, taller (scrollHeight >
//   clientHeight + 1, or a select's text box lower than one line: the text is cut at the bottom).
//   Deliberate truncation is allowed: `text-overflow: ellipsis` with the full text in `title`.
//   Any other element that truncates with an ellipsis must carry its full text in `title` too.
// - `wraps`: the label of a button or a table header takes more than one line, or a short word
//   anywhere (up to 8 characters without a space: a badge, a state) is broken over lines (Chinese
//   two-character words broke one character per line).
// - `outside`: a button or a table cell partly outside the window, or outside the visible box of
//   an ancestor that clips or scrolls it sideways (a table wider than its card hides its last
//   columns, the action buttons with them).
// - `sideways`: the document or the console's content pane scrolls sideways.
// - `covers`: a note (role="note", e.g. a chart's "collecting its first points") lies over a
//   chart's drawing: the lines ran through its text.

/** The in-page script; `arguments[0]` is the page's name. Returns an array of faults. */
export const LAYOUT_PROBE = String.raw`
const page = arguments[0]
const faults = []
const px = (v) => Math.round(v * 10) / 10
const text = (el) => (el.innerText ?? el.textContent ?? '').replace(/\s+/g, ' ').trim()
const short = (s) => (s.length > 70 ? s.slice(0, 67) + '…' : s)

// One step of a selector path: tag, test id or first classes, and the column of a cell.
function step(el) {
  let s = el.tagName.toLowerCase()
  const testid = el.getAttribute('data-testid')
  if (testid) return s + '[data-testid="' + testid + '"]'
  if (el.id && !/^v-|^:/.test(el.id)) return s + '#' + el.id
  const classes = [...el.classList].filter((c) => !/^router-link/.test(c)).slice(0, 2)
  if (classes.length) s += '.' + classes.join('.')
  if (el.tagName === 'TD' || el.tagName === 'TH') s += ':nth-child(' + (el.cellIndex + 1) + ')'
  return s
}
function path(el) {
  const steps = []
  for (let e = el; e && e !== document.body && steps.length < 6; e = e.parentElement) {
    steps.unshift(step(e))
    if (e.getAttribute('data-testid') && e !== el && steps.length >= 3) break
  }
  return steps.join(' > ')
}
// The header of a cell's column, so "td:nth-child(7)" reads as "column Items".
function column(el) {
  const cell = el.closest('td, th')
  const table = cell?.closest('table')
  if (!cell || !table) return null
  const head = table.tHead?.rows[0]?.cells[cell.cellIndex]
  return head ? text(head) || head.getAttribute('aria-label') || '(no header text)' : null
}
function visible(el) {
  if (!el.getClientRects().length) return false
  const style = getComputedStyle(el)
  if (style.visibility === 'hidden' || style.display === 'contents') return false
  // Screen-reader-only text is a 1 px clipped box on purpose.
  if (el.closest('.visually-hidden, .sr-only')) return false
  const r = el.getBoundingClientRect()
  return r.width > 0 && r.height > 0
}
const seen = new Map()
function fault(kind, el, detail) {
  // The same fault in every row of a table is one record, with how many times it was seen.
  const key = kind + ' ' + path(el) + ' ' + (column(el) ?? '')
  if (seen.has(key)) {
    seen.get(key).times += 1
    return
  }
  const record = { page, kind, path: path(el), text: short(text(el) || el.getAttribute('aria-label') || el.value || ''), detail }
  const col = column(el)
  if (col !== null) record.column = col
  record.times = 1
  seen.set(key, record)
  faults.push(record)
}
// Truncation on purpose: an ellipsis, and the full text on hover.
function truncatesOnPurpose(el) {
  if (getComputedStyle(el).textOverflow !== 'ellipsis') return false
  // A hover shows the nearest title up the tree.
  const title = (el.closest('[title]')?.getAttribute('title') ?? '').replace(/\s+/g, ' ').trim()
  if (!title) return false
  const shown = text(el)
  // The shown text may be shortened by the code itself ("https://img…/a.jpg"): each piece must be
  // in the title.
  return shown.split('…').every((piece) => title.includes(piece.trim()))
}
function lineHeight(style) {
  const lh = parseFloat(style.lineHeight)
  return Number.isFinite(lh) ? lh : parseFloat(style.fontSize) * 1.2
}
// How many lines the element's own text takes (text nodes' line boxes, by their vertical middles).
function lines(el) {
  const middles = []
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT)
  const range = document.createRange()
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue
    if (node.parentElement?.closest('.visually-hidden, .sr-only')) continue
    range.selectNodeContents(node)
    for (const r of range.getClientRects()) if (r.width > 0.5 && r.height > 0.5) middles.push([r.top, r.bottom])
  }
  middles.sort((a, b) => a[0] - b[0])
  let count = 0
  let bottom = -Infinity
  for (const [top, bot] of middles) {
    if (top >= bottom - 2) {
      count += 1
      bottom = bot
    } else bottom = Math.max(bottom, bot)
  }
  return count
}

const outsideCells = new Set()
const controls = 'button, a[href], select, th, td, [role="tab"], [role="menuitem"]'
for (const el of document.querySelectorAll(controls)) {
  if (!visible(el)) continue
  const tag = el.tagName
  const style = getComputedStyle(el)
  if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && !truncatesOnPurpose(el)) {
    fault('clipped', el, 'content ' + el.scrollWidth + ' px wide in a box ' + el.clientWidth + ' px wide' +
      (style.textOverflow === 'ellipsis' ? ' (ellipsis without the full text in title)' : ''))
  }
  if (tag === 'BUTTON' || tag === 'SELECT') {
    if (el.scrollHeight > el.clientHeight + 1) {
      fault('clipped', el, 'content ' + el.scrollHeight + ' px high in a box ' + el.clientHeight + ' px high')
    } else if (tag === 'SELECT') {
      const inner = el.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
      const needed = parseFloat(style.fontSize) * 1.15
      if (inner < needed - 1) {
        fault('clipped', el, 'text box ' + px(inner) + ' px high (box ' + el.clientHeight + ' px minus padding ' +
          style.paddingTop + ' + ' + style.paddingBottom + ') for ' + style.fontSize + ' text: cut at the bottom')
      }
    }
  }
  if (tag === 'BUTTON' || tag === 'TH' || el.getAttribute('role') === 'tab') {
    const n = lines(el)
    if (n > 1) {
      const r = el.getBoundingClientRect()
      fault('wraps', el, n + ' lines in ' + px(r.width) + ' × ' + px(r.height) + ' px (one line is ' + px(lineHeight(style)) + ' px)')
    }
  }
  // A button, or a whole table cell (a table wider than its scrolling card hides its last columns
  // past the edge), must lie inside the window and the boxes that clip it.
  if (tag === 'BUTTON' || tag === 'TD' || tag === 'TH') {
    // A button in a cell already reported outside is not reported again.
    if (tag === 'BUTTON' && outsideCells.has(el.closest('td, th'))) continue
    const r = el.getBoundingClientRect()
    let outside = false
    // Up to the first ancestor that scrolls vertically, a clipping box must hold the button; beyond
    // it only sideways (scrolled out of view vertically is what a scrolling pane is for).
    let checkY = true
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a)
      const clipsX = s.overflowX !== 'visible'
      const clipsY = checkY && (s.overflowY === 'hidden' || s.overflowY === 'clip')
      if (s.overflowY === 'auto' || s.overflowY === 'scroll') checkY = false
      if (!clipsX && !clipsY) continue
      const box = a.getBoundingClientRect()
      const left = box.left + a.clientLeft
      const top = box.top + a.clientTop
      if (clipsX && (r.left < left - 1 || r.right > left + a.clientWidth + 1)) {
        fault('outside', el, 'spans x ' + px(r.left) + '…' + px(r.right) + ', outside the visible x ' + px(left) + '…' +
          px(left + a.clientWidth) + ' of ' + path(a) + ' (overflow-x ' + s.overflowX + ')')
        outside = true
        break
      }
      if (clipsY && (r.top < top - 1 || r.bottom > top + a.clientHeight + 1)) {
        fault('outside', el, 'spans y ' + px(r.top) + '…' + px(r.bottom) + ', outside the visible y ' + px(top) + '…' +
          px(top + a.clientHeight) + ' of ' + path(a) + ' (overflow-y ' + s.overflowY + ')')
        outside = true
        break
      }
    }
    if (!outside && (r.left < -1 || r.right > innerWidth + 1)) {
      fault('outside', el, 'spans x ' + px(r.left) + '…' + px(r.right) + ' in a window ' + innerWidth + ' px wide')
      outside = true
    }
    if (outside && tag !== 'BUTTON') outsideCells.add(el)
  }
}

// A short label anywhere (a badge, a state, a kind: up to 8 characters, no space) stays on one
// line: 运行中 went one character per line in a narrow column.
{
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  const range = document.createRange()
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const word = node.textContent.trim()
    if (word.length < 2 || word.length > 8 || /\s/.test(word)) continue
    const parent = node.parentElement
    if (!parent || !visible(parent)) continue
    range.selectNodeContents(node)
    const tops = new Set()
    for (const r of range.getClientRects()) if (r.width > 0.5 && r.height > 0.5) tops.add(Math.round(r.top))
    if (tops.size > 1) fault('wraps', parent, JSON.stringify(word) + ' broken over ' + tops.size + ' lines')
  }
}

// Anything else that truncates with an ellipsis shows its full text on hover.
for (const el of document.querySelectorAll('body *')) {
  if (el.matches(controls) || !visible(el)) continue
  if (getComputedStyle(el).textOverflow !== 'ellipsis') continue
  if (el.scrollWidth > el.clientWidth + 1 && !truncatesOnPurpose(el)) {
    fault('clipped', el, 'truncated with an ellipsis (content ' + el.scrollWidth + ' px in ' + el.clientWidth + ' px) but no title with the full text')
  }
}

// A note never lies over a chart's drawing.
for (const canvas of document.querySelectorAll('canvas')) {
  if (!visible(canvas) || canvas.width === 0) continue
  const c = canvas.getBoundingClientRect()
  for (const note of document.querySelectorAll('[role="note"]')) {
    if (!visible(note)) continue
    const n = note.getBoundingClientRect()
    const overlap = Math.min(c.right, n.right) - Math.max(c.left, n.left) > 1 && Math.min(c.bottom, n.bottom) - Math.max(c.top, n.top) > 1
    if (overlap) fault('covers', note, 'lies over a chart (note ' + px(n.top) + '-' + px(n.bottom) + ' px, chart ' + px(c.top) + '-' + px(c.bottom) + ' px from the top)')
  }
}

const doc = document.documentElement
if (doc.scrollWidth > innerWidth + 1) fault('sideways', doc, 'the document is ' + doc.scrollWidth + ' px wide in a window ' + innerWidth + ' px wide')
const pane = document.querySelector('main.content')
if (pane && pane.scrollWidth > pane.clientWidth + 1) {
  fault('sideways', pane, 'the content pane scrolls sideways: ' + pane.scrollWidth + ' px of content in ' + pane.clientWidth + ' px')
}
return faults
`

/**
 * The faults of several pages, each one once: a fault seen again on a later page (a dialog over
 * the same list, the status bar on every page) is merged into the first, which lists its pages.
 */
export function mergeFaults(faults) {
  const merged = new Map()
  for (const f of faults) {
    const key = `${f.kind}|${f.path}|${f.column ?? ''}`
    const first = merged.get(key)
    if (first) {
      if (!first.pages.includes(f.page)) first.pages.push(f.page)
      first.times = Math.max(first.times, f.times)
    } else merged.set(key, { ...f, pages: [f.page] })
  }
  return [...merged.values()]
}

/** One line per fault, for an assertion message. */
export function describeFaults(where, faults) {
  return faults
    .map((f) => {
      const col = f.column !== undefined ? ` (column ${JSON.stringify(f.column)})` : ''
      const times = f.times > 1 ? ` [${f.times} times, e.g. every row]` : ''
      const pages = (f.pages ?? [f.page]).join(', ')
      return `  [${where}] ${pages}: ${f.kind} ${JSON.stringify(f.text)}${col} at ${f.path}: ${f.detail}${times}`
    })
    .join('\n')
}
