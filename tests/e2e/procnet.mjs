// Which TCP connections a process tree holds, read from /proc (Linux): each process's socket
// inodes (/proc/<pid>/fd → "socket:[inode]") matched against the kernel's TCP tables
// (/proc/net/tcp and tcp6 of the same network namespace). For the check that the desktop in
// remote mode talks to nobody but its server (no Redis, no database).

import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

/** The pids of `root` and every descendant (children by their ppid in /proc/<pid>/stat). */
export function processTree(root) {
  const children = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // gone meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (!children.has(ppid)) children.set(ppid, [])
    children.get(ppid).push(Number(entry))
  }
  const tree = []
  const queue = [root]
  while (queue.length) {
    const pid = queue.shift()
    tree.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return tree
}

/** Every process under `pid` (children, theirs, and so on), without `pid` itself. */
export function descendants(pid) {
  return processTree(pid).slice(1)
}

/** The executable of `pid` (null when it is gone or not readable). */
export function executable(pid) {
  try {
    return readlinkSync(`/proc/${pid}/exe`)
  } catch {
    return null
  }
}

/** The short name of `pid` (`comm`), or null. */
export function commandName(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return null
  }
}

/** The socket inodes open in `pid`. */
function socketInodes(pid) {
  const inodes = new Set()
  let fds
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return inodes // gone meanwhile
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) inodes.add(m[1])
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes
}

const TCP_STATES = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
}

/** "0100007F:1F90" (tcp) or the 32-hex-digit form (tcp6) → { address, port }. */
function endpoint(hex) {
  const [addr, port] = hex.split(':')
  let address
  if (addr.length === 8) {
    address = [3, 2, 1, 0].map((i) => parseInt(addr.slice(i * 2, i * 2 + 2), 16)).join('.')
  } else {
    // Four 32-bit words, each in host (little-endian) order.
    const bytes = []
    for (let w = 0; w < 4; w++) {
      const word = addr.slice(w * 8, w * 8 + 8)
      for (let i = 3; i >= 0; i--) bytes.push(word.slice(i * 2, i * 2 + 2))
    }
    const groups = []
    for (let i = 0; i < 16; i += 2) groups.push(`${bytes[i]}${bytes[i + 1]}`.replace(/^0{1,3}/, '').toLowerCase())
    address = groups.join(':')
    const v4 = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(address)
    if (v4) {
      const n = (parseInt(v4[1], 16) << 16) | parseInt(v4[2], 16)
      address = [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
    }
  }
  return { address, port: parseInt(port, 16) }
}

/** Every TCP socket of this network namespace: inode → { local, remote, state }. */
function tcpTable() {
  const table = new Map()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10) continue
      table.set(cols[9], { local: endpoint(cols[1]), remote: endpoint(cols[2]), state: TCP_STATES[cols[3]] ?? cols[3] })
    }
  }
  return table
}

/**
 * The TCP connections held by the processes `pids`: [{ pid, comm, local, remote, state }]
 * (listening sockets left out: they connect to nothing).
 */
export function tcpConnections(pids) {
  const table = tcpTable()
  const found = []
  for (const pid of pids) {
    for (const inode of socketInodes(pid)) {
      const socket = table.get(inode)
      if (socket && socket.state !== 'LISTEN') found.push({ pid, comm: commandName(pid), ...socket })
    }
  }
  return found
}

/** "opsdeck[1234] 127.0.0.1:40000 → 127.0.0.1:6379 ESTABLISHED", for messages. */
export function describe(c) {
  return `${c.comm}[${c.pid}] ${c.local.address}:${c.local.port} → ${c.remote.address}:${c.remote.port} ${c.state}`
}
