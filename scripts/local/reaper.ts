/**
 * Runs one command for the local stack and makes sure it dies with the stack. `emulators.ts` starts
 * it with a pipe on its standard input; it runs the command as the leader of a process group of its
 * own (gcloud's emulators put their Java server in the wrapper's group) and stops that whole group —
 * SIGTERM, then SIGKILL after 3 s — when:
 * - its standard input closes: the stack's process has ended, however it ended, `kill -9` included;
 * - it is sent SIGTERM, SIGINT or SIGHUP (the stack stopping it);
 * - the command exits (whatever it left running in its group goes too).
 *
 * Usage: node reaper.js <command> [args…]
 */
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: reaper <command> [args…]\n');
  process.exit(2);
}

const child = spawn(command, args, { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });

function signalGroup(signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  signalGroup('SIGTERM');
  setTimeout(() => {
    signalGroup('SIGKILL');
    process.exit(1);
  }, 3000).unref();
}

// The stack holds the other end of this pipe: it closes when the stack's process ends.
process.stdin.on('data', () => undefined);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, stop);

child.on('error', (err) => {
  process.stderr.write(`reaper: ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  signalGroup('SIGKILL');
  process.exit(code ?? (signal ? 128 : 1));
});
