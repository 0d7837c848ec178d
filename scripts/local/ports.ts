/**
 * Which local ports are free, and who holds one that is not: so that `npm start` can say in one
 * line "port 8081 is in use by pid 1234 (node … --target=processCompletion)" instead of crash-looping.
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
