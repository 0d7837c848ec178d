/**
 * What `npm start` leaves for the local tools (`show`, `send-webhook`, `dead-letters`): the
 * emulators' addresses, URLs, topics and collection settings in `.data/local-stack.json` (removed on
 * stop), and the generated secret in `.data/secret` (kept across restarts, mode 600). The tools find
 * the running stack through it, so nothing needs exporting by hand.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { projectRoot } from './local-stack';

export interface LocalState {
  pid: number;
  projectId: string;
  startedAt: string;
  /** Emulator hosts and the functions' collection settings. */
  env: Record<string, string>;
  webhookUrl: string;
  adminUrl: string;
  completionsTopic: string;
  deadLetterSubscription: string;
  /** Where the functions' secret is read (shared/modal/secret-source.ts spec): the saved file, or the environment. */
  secretFrom: string;
}

/** `.data/` in the project, or LOCAL_DATA_DIR (the README test runs a stack of its own there). */
export const dataDir = () => process.env.LOCAL_DATA_DIR || join(projectRoot(), '.data');
const stateFile = () => join(dataDir(), 'local-stack.json');
const secretFile = () => join(dataDir(), 'secret');

/** The saved secret's file (`.data/secret`), as an absolute path. */
export const localSecretFile = () => resolve(secretFile());

export function writeLocalState(state: LocalState): void {
  mkdirSync(dataDir(), { recursive: true });
  writeFileSync(stateFile(), JSON.stringify(state, null, 2) + '\n');
}

export function removeLocalState(): void {
  rmSync(stateFile(), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running local stack, or undefined (no state file, or its `npm start` is gone). */
export function readLocalState(): LocalState | undefined {
  if (!existsSync(stateFile())) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalState;
    return alive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** The state file as written, whether its `npm start` lives or not (`alive` says which). */
export function lastLocalState(): { state: LocalState; alive: boolean } | undefined {
  if (!existsSync(stateFile())) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalState;
    return { state, alive: alive(state.pid) };
  } catch {
    return undefined;
  }
}

/** The secret `npm start` uses when MODAL_WEBHOOK_SECRET is not set: the saved one, or a new one saved. */
export function localSecret(): { secret: string; created: boolean } {
  if (existsSync(secretFile())) return { secret: readFileSync(secretFile(), 'utf8').trim(), created: false };
  mkdirSync(dataDir(), { recursive: true });
  const secret = randomBytes(32).toString('base64');
  writeFileSync(secretFile(), secret + '\n', { mode: 0o600 });
  chmodSync(secretFile(), 0o600);
  return { secret, created: true };
}

/** The saved local secret, without creating one. */
export function savedLocalSecret(): string | undefined {
  return existsSync(secretFile()) ? readFileSync(secretFile(), 'utf8').trim() : undefined;
}

/**
 * For a local tool: use the emulators named in the environment, else those of the running
 * `npm start`. With neither (and no GOOGLE_CLOUD_PROJECT naming a real project), it says what to do
 * and exits, instead of waiting for credentials that a local machine does not have.
 */
export function useLocalStack(tool: string): LocalState | undefined {
  const state = readLocalState();
  if (process.env.FIRESTORE_EMULATOR_HOST || process.env.PUBSUB_EMULATOR_HOST) {
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    process.env.GOOGLE_CLOUD_PROJECT ??= state?.projectId ?? 'demo-omtx-local';
    return state;
  }
  if (state) {
    for (const [key, value] of Object.entries(state.env)) process.env[key] ??= value;
    process.env.GOOGLE_CLOUD_PROJECT ??= state.projectId;
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    return state;
  }
  if (process.env.GOOGLE_CLOUD_PROJECT) return undefined;
  process.stderr.write(
    `${tool}: no local stack is running (no .data/local-stack.json from a live \`npm start\`).\n` +
      '  Start it in another shell with `npm start`, then run this again;\n' +
      '  or set FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST for other emulators,\n' +
      '  or GOOGLE_CLOUD_PROJECT (with gcloud application-default credentials) for a real project.\n',
  );
  process.exit(2);
}
