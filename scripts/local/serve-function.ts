/**
 * One function served by the real Functions Framework in a process of its own, supervised as Cloud
 * Functions would: a process that dies unasked is logged and started again. Used by the local stack
 * (`npm start`, the tests) and the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { describePortHolder } from './ports';
import { dirname, join, resolve } from 'node:path';

/** The project root, whether this file runs from `scripts/local/` (ts-jest) or `dist/scripts/local/`. */
export function projectRoot(): string {
  return __dirname.endsWith(join('dist', 'scripts', 'local'))
    ? resolve(__dirname, '..', '..', '..')
    : resolve(__dirname, '..', '..');
}

/** A compiled helper of the local stack (dist/scripts/local/), whether this file runs from source or from dist. */
export function localHelper(file: string): string {
  return join(projectRoot(), 'dist', 'scripts', 'local', file);
}

function frameworkMain(): string {
  return join(dirname(require.resolve('@google-cloud/functions-framework')), 'main.js');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForPort(
  port: number,
  child: ChildProcess,
  output: () => string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`function exited with code ${child.exitCode}:\n${output()}`);
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`function on port ${port} did not start:\n${output()}`);
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after 3 s; resolves once it exited. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, 3000);
  await exited;
  clearTimeout(timer);
}

export type Service = 'webhook' | 'worker' | 'admin' | 'reconciler';

export interface ServedFunction {
  /** The current process (a new one after each restart). */
  readonly child: ChildProcess;
  readonly restarts: number;
  /** It exited because its port was taken, and was not restarted. */
  readonly portInUse: boolean;
  stop: () => Promise<void>;
  output: () => string;
}

/**
 * Serves one function in its own process group, supervised as Cloud Functions would: a process
 * that dies unasked is logged and started again on the same port, after 250 ms doubling to 5 s
 * (reset once it has stayed up for 30 s).
 */
export function serveFunction(
  target: string,
  signatureType: 'http' | 'cloudevent',
  port: number,
  env: Record<string, string>,
  onLine: (line: string) => void,
  source = projectRoot(),
): ServedFunction {
  let output = '';
  let child: ChildProcess;
  let stopping = false;
  let restarts = 0;
  let backoffMs = 250;
  let restartTimer: NodeJS.Timeout | undefined;
  let portInUse = false;

  const spawnOnce = () => {
    const startedAt = Date.now();
    child = spawn(
      process.execPath,
      [
        '--require',
        localHelper('exit-with-parent.js'),
        frameworkMain(),
        `--target=${target}`,
        `--signature-type=${signatureType}`,
        `--port=${port}`,
        `--source=${source}`,
      ],
      {
        cwd: projectRoot(),
        detached: true,
        // stdin: a pipe this process holds open; the function exits when it closes (exit-with-parent.ts).
        stdio: ['pipe', 'pipe', 'pipe'],
        // NODE_ENV as on Cloud Functions (Express changes its error handling by it).
        env: { ...process.env, NODE_ENV: 'production', ...env, FUNCTION_TARGET: target, PORT: String(port) },
      },
    );
    child.stdin?.on('error', () => undefined);
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-4000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      if (/EADDRINUSE/.test(output.slice(-2000))) {
        // Not a crash: restarting cannot free the port. Say so once, and leave it stopped.
        portInUse = true;
        onLine(
          JSON.stringify({
            severity: 'ERROR',
            event: 'functionPortInUse',
            message: `${target} cannot listen on port ${port}: it is in use (${describePortHolder(port)})`,
            target,
            port,
          }),
        );
        return;
      }
      if (Date.now() - startedAt > 30_000) backoffMs = 250;
      onLine(
        JSON.stringify({
          severity: 'ERROR',
          event: 'functionRestarted',
          message: `${target} exited (${signal ?? `code ${code}`}); restarting in ${backoffMs} ms`,
          target,
        }),
      );
      restartTimer = setTimeout(() => {
        restarts++;
        spawnOnce();
      }, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 5000);
    });
  };
  spawnOnce();

  // If this process exits first, its function goes with it (taken off again once stopped).
  const killOnExit = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  process.on('exit', killOnExit);

  const stop = async () => {
    stopping = true;
    clearTimeout(restartTimer);
    process.off('exit', killOnExit);
    await stopGroup(child);
  };
  return {
    get child() {
      return child;
    },
    get restarts() {
      return restarts;
    },
    get portInUse() {
      return portInUse;
    },
    stop,
    output: () => output,
  };
}
