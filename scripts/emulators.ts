/**
 * Starts the gcloud Pub/Sub and Firestore emulators for `npm start`, the tests and the benchmark,
 * or uses running ones named by PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST.
 *
 * `gcloud … start` is a Python wrapper around a Java server; killing the wrapper leaves Java
 * running. Each emulator is therefore started in its own process group and stopped as a group,
 * also when this process exits abruptly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export type EmulatorKind = 'pubsub' | 'firestore';

export interface Emulator {
  kind: EmulatorKind;
  /** host:port */
  host: string;
  /** False when an already running emulator was used; stop() leaves it alone. */
  owned: boolean;
  stop(): Promise<void>;
}

const ENV_VAR: Record<EmulatorKind, string> = {
  pubsub: 'PUBSUB_EMULATOR_HOST',
  firestore: 'FIRESTORE_EMULATOR_HOST',
};

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function isUp(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function waitUntilUp(host: string, child: ChildProcess | undefined, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isUp(host)) return;
    if (child && child.exitCode !== null) throw new Error(`emulator exited (code ${child.exitCode}):\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`emulator at ${host} not ready after ${timeoutMs} ms:\n${output()}`);
}

function command(kind: EmulatorKind, host: string, projectId: string): string[] {
  return kind === 'pubsub'
    ? ['beta', 'emulators', 'pubsub', 'start', `--host-port=${host}`, `--project=${projectId}`]
    : ['emulators', 'firestore', 'start', `--host-port=${host}`];
}

/** Starts one emulator, or returns the running one its environment variable names. */
export async function startEmulator(kind: EmulatorKind, projectId: string, env: NodeJS.ProcessEnv = process.env): Promise<Emulator> {
  const existing = env[ENV_VAR[kind]];
  if (existing) {
    await waitUntilUp(existing, undefined, 10_000, () => `${ENV_VAR[kind]}=${existing} does not answer`);
    return { kind, host: existing, owned: false, stop: async () => undefined };
  }
  const host = `127.0.0.1:${await freePort()}`;
  let output = '';
  const child = spawn('gcloud', command(kind, host, projectId), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
  });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`\n${String(err)}`)));
  running.add(child);
  installExitHook();

  const stop = async () => {
    if (!running.has(child)) return;
    running.delete(child);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    // The wrapper may exit before its Java child: make sure the whole group is gone.
    killGroup(child, 'SIGKILL');
  };
  try {
    await waitUntilUp(host, child, 60_000, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { kind, host, owned: true, stop };
}

export interface Emulators {
  env: { PUBSUB_EMULATOR_HOST: string; FIRESTORE_EMULATOR_HOST: string };
  owned: EmulatorKind[];
  stop(): Promise<void>;
}

/** Both emulators, started in parallel. */
export async function startEmulators(projectId: string, env: NodeJS.ProcessEnv = process.env): Promise<Emulators> {
  const results = await Promise.allSettled([startEmulator('pubsub', projectId, env), startEmulator('firestore', projectId, env)]);
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    await Promise.all(started.map((e) => e.stop()));
  };
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const [pubsub, firestore] = started as [Emulator, Emulator];
  return {
    env: { PUBSUB_EMULATOR_HOST: pubsub.host, FIRESTORE_EMULATOR_HOST: firestore.host },
    owned: started.filter((e) => e.owned).map((e) => e.kind),
    stop,
  };
}
