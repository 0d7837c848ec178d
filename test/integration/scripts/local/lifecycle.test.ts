/**
 * `npm start` lives and dies as one: whatever ends it (kill -9, a closed terminal's SIGHUP), no
 * function or emulator outlives it and no port stays held, and the next start comes up cleanly. A
 * start that finds a port taken says which, and by whom, in one line, and exits non-zero.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describePortHolder, freePort, portIsFree } from '../../../../scripts/local/ports';
import { exitedWithOutput } from '../../../support/child';
import { until } from '../../../support/until';

jest.setTimeout(240_000);

const root = join(__dirname, '..', '..', '..', '..');
let dataDir: string;
const ports = { PORT: 0, WORKER_PORT: 0, ADMIN_PORT: 0, PUBSUB_EMULATOR_PORT: 0, FIRESTORE_EMULATOR_PORT: 0 };

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    LOCAL_DATA_DIR: dataDir,
    CI: 'true',
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  for (const key of ['PUBSUB_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST', 'MODAL_WEBHOOK_SECRET', 'GOOGLE_CLOUD_PROJECT'])
    delete e[key];
  return e;
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

/** Every stack a test started: one a failing test left running is stopped in afterAll, not leaked. */
const started: ChildProcess[] = [];

async function npmStart(): Promise<Started> {
  let output = '';
  const child = spawn(process.execPath, [join(root, 'dist', 'scripts', 'local', 'start.js')], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env(),
  });
  started.push(child);
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  await until(
    'npm start to be ready',
    async () =>
      output.includes('is running')
        ? true
        : child.exitCode !== null
          ? (() => {
              throw new Error(output);
            })()
          : undefined,
    120_000,
  );
  return { child, output: () => output };
}

/** Whether a process lives (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** The pids holding the stack's five ports: two emulators (Java) and three functions. */
function holders(): number[] {
  return Object.values(ports)
    .map((p) => Number(/^pid (\d+)/.exec(describePortHolder(p))?.[1] ?? 0))
    .filter(Boolean);
}

async function nothingLeft(pids: number[]): Promise<void> {
  await until(
    'every process of the stack to be gone and every port free',
    async () => {
      const living = pids.filter(alive);
      const held = [];
      for (const p of Object.values(ports)) if (!(await portIsFree(p))) held.push(p);
      return living.length === 0 && held.length === 0 ? true : undefined;
    },
    20_000,
  );
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'omtx-lifecycle-'));
  for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
});

afterAll(async () => {
  for (const child of started.filter((c) => c.exitCode === null && c.signalCode === null)) {
    const exited = exitedWithOutput(child);
    process.kill(-child.pid!, 'SIGKILL'); // its functions and emulators exit with it
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

it('leaves nothing running after kill -9, and the next start comes up cleanly', async () => {
  const first = await npmStart();
  const pids = holders();
  expect(pids).toHaveLength(5);
  process.kill(first.child.pid!, 'SIGKILL');
  await nothingLeft(pids);

  const second = await npmStart();
  expect(second.output()).toMatch(/did not stop cleanly; its \.data\/local-stack\.json was stale/);
  expect(second.output()).not.toMatch(/EADDRINUSE|restarting/);
  const exited = exitedWithOutput(second.child);
  // A closed terminal: SIGHUP stops the stack as Ctrl-C does, Firestore exported.
  process.kill(second.child.pid!, 'SIGHUP');
  await exited;
  expect(second.output()).toContain('SIGHUP: stopping');
  expect(second.output()).toContain('stopped.');
  await nothingLeft(holders());
  expect(existsSync(join(dataDir, 'firestore')) && readdirSync(join(dataDir, 'firestore')).length).toBe(1);
});

it('refuses to start, in one line naming the port and its holder, when a port is taken', async () => {
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(ports.WORKER_PORT, '127.0.0.1', r));
  try {
    let output = '';
    const child = spawn(process.execPath, [join(root, 'dist', 'scripts', 'local', 'start.js')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env(),
    });
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await exitedWithOutput(child);
    expect(code).toBe(1);
    expect(output.trim().split('\n').at(-1)).toMatch(
      new RegExp(
        `^npm start: port ${ports.WORKER_PORT} \\(worker\\) is in use by pid ${process.pid} .*; stop that process or set WORKER_PORT$`,
      ),
    );
    expect(output).not.toMatch(/EADDRINUSE|restarting/);
  } finally {
    squatter.close();
  }
});

/** `npm start` with PATH limited to `dirs`: its exit code and everything it printed. */
async function startWithPath(dirs: string[]): Promise<{ code: number | null; output: string }> {
  let output = '';
  const child = spawn(process.execPath, [join(root, 'dist', 'scripts', 'local', 'start.js')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env(), PATH: dirs.join(':') },
  });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return { code: await exitedWithOutput(child), output };
}

const expectOneClearLine = (result: { code: number | null; output: string }, what: RegExp) => {
  expect(result.code).toBe(1);
  const lines = result.output
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('Starting omtx-modal-webhooks'));
  expect(lines).toEqual([expect.stringMatching(what)]);
  expect(result.output).not.toMatch(/\n\s+at |Firestore data not saved|TypeError/);
};

it('says in one line what a newcomer without the Cloud SDK must install, and exits 1', async () => {
  const result = await startWithPath([dirname(process.execPath)]);
  expectOneClearLine(
    result,
    /^npm start: the Google Cloud SDK is not installed \(no gcloud on PATH\): install it .*gcloud components install pubsub-emulator cloud-firestore-emulator beta.*Java 17/,
  );
});

it('says in one line that Java is missing when the SDK is there without it', async () => {
  const gcloud = spawnSync('bash', ['-c', 'command -v gcloud'], { encoding: 'utf8' }).stdout.trim();
  if (!gcloud) {
    process.stdout.write(
      'skipped: gcloud is not installed on this machine, so there is no SDK to take Java away from\n',
    );
    return;
  }
  // Everything gcloud's wrapper needs, but no java.
  const bin = mkdtempSync(join(tmpdir(), 'omtx-nojava-'));
  for (const tool of ['bash', 'sh', 'env', 'readlink', 'dirname', 'uname', 'python3', 'python']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, tool));
  }
  symlinkSync(realpathSync(gcloud), join(bin, 'gcloud'));
  const result = await startWithPath([dirname(process.execPath), bin]);
  expectOneClearLine(result, /^npm start: the emulators need Java 17 on PATH: apt-get install openjdk-17-jre-headless/);
});
