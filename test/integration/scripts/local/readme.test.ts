/**
 * The README, run as a newcomer runs it: `npm start` as a child process (its own emulators, its own
 * data directory), then every command of the blocks marked `<!-- readme-test: NAME -->` in the
 * README and docs/, in
 * order, each checked against what its `# → …` comment says (every listed word must appear in what
 * it prints; a 4xx command may exit non-zero). Between the Quickstart and the admin examples the
 * stack is restarted, and what a restart promises is checked: same secret, data kept.
 *
 * Only the ports and the data directory are substituted (a developer's own `npm start` may hold
 * the defaults); the commands are otherwise run exactly as written, with bash, from the repository root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../../scripts/local/ports';
import { exitedWithOutput } from '../../../support/child';
import { until } from '../../../support/until';

jest.setTimeout(240_000);

const root = join(__dirname, '..', '..', '..', '..');
/** Where marked blocks may live: the README and the pages it links in docs/. */
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
].map((file) => readFileSync(join(root, file), 'utf8'));

interface Command {
  line: string;
  expect: string[];
}

/** The bash lines of the block marked `<!-- readme-test: name -->`: assignments and checked commands. */
function block(name: string): Array<Command | { assign: string }> {
  const marker = `<!-- readme-test: ${name} -->`;
  const readme = pages.find((p) => p.includes(marker));
  if (!readme) throw new Error(`neither README.md nor docs/ has a block ${name}`);
  const at = readme.indexOf(marker);
  const open = readme.indexOf('```bash\n', at) + '```bash\n'.length;
  const body = readme.slice(open, readme.indexOf('\n```', open));
  return body
    .split('\n')
    .filter((l) => l.trim())
    .map((raw) => {
      const arrow = raw.indexOf('# →');
      if (arrow < 0) return { assign: raw.trim() };
      const expectText = raw
        .slice(arrow + 3)
        .replace(/\(.*\)\s*$/, '')
        .trim();
      return { line: raw.slice(0, arrow).trim(), expect: expectText.split(/\s+/).filter(Boolean) };
    });
}

const ports = { webhook: 8080, worker: 8081, admin: 8082, pubsub: 8085, firestore: 8086 };
let dataDir: string;
let start: ChildProcess | undefined;
let banner = '';

function localize(text: string): string {
  return text
    .replaceAll('localhost:8080', `localhost:${ports.webhook}`)
    .replaceAll('localhost:8082', `localhost:${ports.admin}`)
    .replaceAll('.data/', `${dataDir}/`);
}

/** The child's environment: no emulator hosts of the test run, its own data directory. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, LOCAL_DATA_DIR: dataDir, CI: 'true' };
  for (const key of [
    'PUBSUB_EMULATOR_HOST',
    'FIRESTORE_EMULATOR_HOST',
    'MODAL_WEBHOOK_SECRET',
    'GOOGLE_CLOUD_PROJECT',
    'STORAGE_EMULATOR_HOST',
  ])
    delete e[key];
  return e;
}

async function npmStart(): Promise<void> {
  banner = '';
  start = spawn('node', [join(root, 'dist', 'scripts', 'local', 'start.js')], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...env(),
      PORT: String(ports.webhook),
      WORKER_PORT: String(ports.worker),
      ADMIN_PORT: String(ports.admin),
      PUBSUB_EMULATOR_PORT: String(ports.pubsub),
      FIRESTORE_EMULATOR_PORT: String(ports.firestore),
    },
  });
  start.stdout!.on('data', (c: Buffer) => (banner += c.toString()));
  start.stderr!.on('data', (c: Buffer) => (banner += c.toString()));
  await until(
    'npm start to be ready',
    async () =>
      banner.includes('is running')
        ? true
        : start!.exitCode !== null
          ? (() => {
              throw new Error(banner);
            })()
          : undefined,
    120_000,
  );
}

async function ctrlC(): Promise<void> {
  if (!start || start.exitCode !== null) return;
  // The last lines ("stopped.") may still be on the pipe at 'exit'.
  const exited = exitedWithOutput(start);
  start.kill('SIGINT');
  await exited;
}

/** A command that only reads: the pipeline is asynchronous, so it is looked at again, up to 15 s. */
const isRead = (line: string) =>
  /^npm run (show|dead-letters -- list)/.test(line) || (line.startsWith('curl') && !line.includes('-X POST'));

function run(command: Command, prelude: string[]): void {
  const script = [...prelude, localize(command.line)].join('\n');
  const deadline = Date.now() + (isRead(command.line) ? 15_000 : 0);
  let result = spawnSync('bash', ['-c', script], { cwd: root, env: env(), encoding: 'utf8', timeout: 60_000 });
  let out = `${result.stdout}${result.stderr}`;
  while ((result.status !== 0 || command.expect.some((w) => !out.includes(w))) && Date.now() < deadline) {
    spawnSync('sleep', ['0.5']);
    result = spawnSync('bash', ['-c', script], { cwd: root, env: env(), encoding: 'utf8', timeout: 60_000 });
    out = `${result.stdout}${result.stderr}`;
  }
  const rejected = command.expect.some((w) => /^4\d\d$/.test(w));
  expect({
    command: command.line,
    status: rejected ? 'any' : result.status,
    missing: command.expect.filter((w) => !out.includes(w)),
  }).toEqual({ command: command.line, status: rejected ? 'any' : 0, missing: [] });
}

function runBlock(name: string, commands: number): void {
  const prelude: string[] = [];
  const items = block(name);
  expect(items.filter((i) => 'line' in i)).toHaveLength(commands);
  for (const item of items) {
    if ('assign' in item) prelude.push(localize(item.assign));
    else run(item, prelude);
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'omtx-readme-'));
  // The README's ports when free (as a newcomer has them), else free ones substituted in.
  for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort(ports[key]);
  await npmStart();
});

afterAll(async () => {
  await ctrlC();
  rmSync(dataDir, { recursive: true, force: true });
});

it('runs the Quickstart as written', async () => {
  expect(banner).toContain('generated and saved');
  expect(banner).toContain('Firestore: empty (first start)');
  runBlock('quickstart', 13);
});

it('keeps the secret and the Firestore data across a restart', async () => {
  const secret = readFileSync(join(dataDir, 'secret'), 'utf8');
  await ctrlC();
  expect(banner).toContain('stopped.');
  await npmStart();
  expect(banner).toContain('MODAL_WEBHOOK_SECRET kept from .data/secret');
  expect(banner).toContain('Firestore: data restored from the last run');
  expect(readFileSync(join(dataDir, 'secret'), 'utf8')).toBe(secret);
  run({ line: 'npm run show -- jobs/job-abc123', expect: ['"completed"'] }, []);
});

it('runs the signed curl of the contract section', () => {
  runBlock('curl', 1);
});

it('runs the admin examples as written', () => {
  runBlock('admin', 9);
});

it('processes a completion by hand as written', () => {
  runBlock('manual', 3);
});

it('tells a tool what to do when no stack is running', async () => {
  await ctrlC();
  const result = spawnSync('bash', ['-c', 'npm run --silent show -- jobs/job-abc123'], {
    cwd: root,
    env: env(),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('no local stack is running');
});
