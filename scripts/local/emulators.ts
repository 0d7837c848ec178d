/**
 * Starts the gcloud Pub/Sub and Firestore emulators for `npm start`, the tests and the benchmark,
 * or uses running ones named by PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST.
 *
 * `gcloud … start` is a Python wrapper around a Java server; killing the wrapper leaves Java
 * running. Each emulator is therefore started in its own process group and stopped as a group,
 * also when this process exits abruptly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, portIsFree } from './ports';
import { localHelper } from './serve-function';

export type EmulatorKind = 'pubsub' | 'firestore';

export interface Emulator {
  kind: EmulatorKind;
  /** host:port */
  host: string;
  /** False when an already running emulator was used; stop() leaves it alone. */
  owned: boolean;
  /** Firestore: the export its data was loaded from, when it was. */
  restoredFrom?: string;
  stop(): Promise<void>;
}

/** How `npm start` runs its own emulators; tests take the defaults (free ports, no data kept). */
export interface EmulatorOptions {
  /** Preferred ports; a port in use falls back to a free one (reported as `portChanged`). */
  ports?: Partial<Record<EmulatorKind, number>>;
  /** Firestore data: loaded from the latest export here at start, exported here at stop. */
  firestoreDataDir?: string;
}

const ENV_VAR: Record<EmulatorKind, string> = {
  pubsub: 'PUBSUB_EMULATOR_HOST',
  firestore: 'FIRESTORE_EMULATOR_HOST',
};

/**
 * What this machine lacks to run the emulators, in one line with the command that installs it (a
 * newcomer without the Cloud SDK gets this, not a stack trace).
 */
export class MissingPrerequisite extends Error {
  override name = 'MissingPrerequisite';
}

const INSTALL_COMPONENTS =
  'gcloud components install pubsub-emulator cloud-firestore-emulator beta (an apt-installed SDK: apt-get install google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator)';

/** Whether `command` is an executable file in one of PATH's directories. */
function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(':').some((dir) => {
    try {
      return dir !== '' && (statSync(join(dir, command)).mode & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

const sdkMissing = () =>
  new MissingPrerequisite(
    `the Google Cloud SDK is not installed (no gcloud on PATH): install it (https://cloud.google.com/sdk/docs/install), then ${INSTALL_COMPONENTS}, and Java 17 (apt-get install openjdk-17-jre-headless)`,
  );

/** The missing prerequisite an emulator's failure output names, if it names one. */
export function missingPrerequisiteIn(output: string): MissingPrerequisite | undefined {
  if (/spawn gcloud ENOENT|gcloud: not found/.test(output)) return sdkMissing();
  if (/Java [0-9]+\+ JRE must be installed|UnsupportedClassVersionError|java: not found/.test(output)) {
    return new MissingPrerequisite(
      'the emulators need Java 17 on PATH: apt-get install openjdk-17-jre-headless (or set PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST to running emulators)',
    );
  }
  if (
    /component[s]? \[?(pubsub-emulator|cloud-firestore-emulator|beta)|gcloud components install|is not installed/i.test(
      output,
    )
  ) {
    return new MissingPrerequisite(`an emulator component of the Google Cloud SDK is missing: ${INSTALL_COMPONENTS}`);
  }
  return undefined;
}

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

async function isUp(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function waitUntilUp(
  host: string,
  child: ChildProcess | undefined,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isUp(host)) return;
    if (child && child.exitCode !== null) throw new Error(`emulator exited (code ${child.exitCode}):\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`emulator at ${host} not ready after ${timeoutMs} ms:\n${output()}`);
}

function command(kind: EmulatorKind, host: string, projectId: string, importFrom: string | undefined): string[] {
  return kind === 'pubsub'
    ? ['beta', 'emulators', 'pubsub', 'start', `--host-port=${host}`, `--project=${projectId}`]
    : [
        'emulators',
        'firestore',
        'start',
        `--host-port=${host}`,
        ...(importFrom ? [`--import-data=${importFrom}`] : []),
      ];
}

/** The newest Firestore export under `dir` (its `.overall_export_metadata` file), if any. */
export function latestFirestoreExport(dir: string): string | undefined {
  let found: { path: string; at: number } | undefined;
  const walk = (d: string, depth: number) => {
    if (depth > 2) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path, depth + 1);
      else if (e.name.endsWith('.overall_export_metadata')) {
        const at = statSync(path).mtimeMs;
        if (!found || at > found.at) found = { path, at };
      }
    }
  };
  walk(dir, 0);
  return found?.path;
}

/** Asks a running Firestore emulator to export its data into `dir`, keeping only that export. */
async function exportFirestore(host: string, projectId: string, dir: string): Promise<void> {
  const target = join(dir, `export-${Date.now()}`);
  mkdirSync(target, { recursive: true });
  const res = await fetch(`http://${host}/emulator/v1/projects/${projectId}:export`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ database: `projects/${projectId}/databases/(default)`, export_directory: target }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`Firestore export answered ${res.status}: ${await res.text()}`);
  for (const old of readdirSync(dir))
    if (join(dir, old) !== target) rmSync(join(dir, old), { recursive: true, force: true });
}

/** Starts one emulator, or returns the running one its environment variable names. */
export async function startEmulator(
  kind: EmulatorKind,
  projectId: string,
  env: NodeJS.ProcessEnv = process.env,
  options: EmulatorOptions = {},
): Promise<Emulator> {
  const existing = env[ENV_VAR[kind]];
  if (existing) {
    await waitUntilUp(existing, undefined, 10_000, () => `${ENV_VAR[kind]}=${existing} does not answer`);
    return { kind, host: existing, owned: false, stop: async () => undefined };
  }
  if (!onPath('gcloud', env)) throw sdkMissing();
  const host = `127.0.0.1:${await freePort(options.ports?.[kind] ?? 0)}`;
  const dataDir = kind === 'firestore' ? options.firestoreDataDir : undefined;
  let up = false;
  const importFrom = dataDir ? latestFirestoreExport(dataDir) : undefined;
  let output = '';
  // Through the reaper (when built): the emulator's group stops when this process ends, even by kill -9.
  const reaper = localHelper('reaper.js');
  const argv = command(kind, host, projectId, importFrom);
  const child = existsSync(reaper)
    ? spawn(process.execPath, [reaper, 'gcloud', ...argv], {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
      })
    : spawn('gcloud', argv, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
      });
  child.stdin?.on('error', () => undefined);
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
    // An emulator that never came up has nothing to save.
    if (dataDir && up) {
      await exportFirestore(host, projectId, dataDir).catch((err: unknown) => {
        process.stderr.write(`Firestore data not saved: ${String(err)}\n`);
      });
    }
    running.delete(child);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    // The wrapper may exit before its Java child: make sure the whole group is gone, and its port free.
    killGroup(child, 'SIGKILL');
    const port = Number(host.slice(host.lastIndexOf(':') + 1));
    for (let i = 0; i < 100 && !(await portIsFree(port)); i++) await new Promise((r) => setTimeout(r, 50));
  };
  try {
    await waitUntilUp(host, child, 60_000, () => output);
    up = true;
  } catch (err) {
    await stop();
    throw missingPrerequisiteIn(output) ?? err;
  }
  return { kind, host, owned: true, ...(importFrom ? { restoredFrom: importFrom } : {}), stop };
}

export interface Emulators {
  env: { PUBSUB_EMULATOR_HOST: string; FIRESTORE_EMULATOR_HOST: string };
  owned: EmulatorKind[];
  /** The Firestore export loaded at start, when there was one. */
  restoredFrom?: string;
  stop(): Promise<void>;
}

/** Both emulators, started in parallel. */
export async function startEmulators(
  projectId: string,
  env: NodeJS.ProcessEnv = process.env,
  options: EmulatorOptions = {},
): Promise<Emulators> {
  const results = await Promise.allSettled([
    startEmulator('pubsub', projectId, env, options),
    startEmulator('firestore', projectId, env, options),
  ]);
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
    ...(firestore.restoredFrom ? { restoredFrom: firestore.restoredFrom } : {}),
    stop,
  };
}
