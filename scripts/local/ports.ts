/**
 * Which local ports are free, and who holds one that is not: so that `npm start` can say in one
 * line "port 8081 is in use by pid 1234 (node … --target=processCompletion)" instead of crash-looping;
 * and free ports for the local stack's servers and the tests (`freePort`).
 * Linux only for the holder (/proc); elsewhere it says the port is in use.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** Whether `port` can be listened on at `host` right now. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The inodes of sockets listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is "ADDR:PORT"; state 0A is LISTEN; the inode is column 9.
      if (cols.length > 9 && cols[1]!.endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9]!);
    }
  }
  return inodes;
}

/** "pid 1234 (node … main.js --target=processCompletion)", or what can be said without /proc. */
export function describePortHolder(port: number): string {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return 'holder unknown';
  for (const pid of safeReaddir('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
      let link = '';
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) {
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            .split('\0')
            .filter(Boolean)
            .map((a) => a.replace(/^.*\/(node_modules|lib|bin)\//, '…/$1/'))
            .join(' ');
        } catch {
          // gone
        }
        return `pid ${pid}${cmd ? ` (${cmd.length > 160 ? `${cmd.slice(0, 160)}…` : cmd})` : ''}`;
      }
    }
  }
  return 'held by a process this user cannot see';
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Ports this process handed out: the OS may give a just-closed port again before its user binds it. */
const handedOut = new Set<number>();

/**
 * The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range): the source ports of
 * outgoing connections come from there. A port for a server to bind later is taken below it, or an
 * emulator's client connection, opened between the choice and the bind, can hold it first (a CI run
 * saw EADDRINUSE on a function's port that way).
 */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}
const LISTEN_LOW = 20000;

export async function freePort(preferred = 0): Promise<number> {
  if (preferred) {
    const port = await probePort(preferred);
    handedOut.add(port);
    return port;
  }
  const high = ephemeralLow();
  for (let attempt = 0; attempt < 200 && high > LISTEN_LOW; attempt++) {
    const candidate = LISTEN_LOW + Math.floor(Math.random() * (high - LISTEN_LOW));
    // Not one we gave before: two functions of one stack were once given the same port (one could
    // not listen, and the other answered for both).
    if (handedOut.has(candidate) || !(await portIsFree(candidate))) continue;
    handedOut.add(candidate);
    return candidate;
  }
  // No room below the ephemeral range: let the OS choose, still never the same port twice.
  for (let attempt = 0; ; attempt++) {
    const port = await probePort(0);
    if (!handedOut.has(port) || attempt >= 50) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort(preferred: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (preferred && err.code === 'EADDRINUSE') resolve(freePort());
      else reject(err);
    });
    server.listen(preferred, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
