/**
 * `npm run configure-modal -- --apply` against the local stack, as an operator runs it: the example
 * app's control endpoints served locally (examples/modal/local_control.py), the stand-in `modal` CLI
 * on PATH (test/support/fake-modal). One app gets configured, one whose Modal secret is wrong fails
 * with that reason, one without a control endpoint waits; the secret is never printed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../../scripts/local/ports';
import { startLocalStack, type LocalStack } from '../../../../scripts/local/local-stack';
import { ADMIN_POST_HEADERS } from '../../../support/http';
import { until } from '../../../support/until';
import { COMPLETION_PATH } from '../../../../shared/contract/routes';

jest.setTimeout(180_000);

const root = join(__dirname, '..', '..', '..', '..');
const hasPython = spawnSync('python3', ['--version']).status === 0;
if (!hasPython)
  process.stdout.write('SKIPPED: configure-modal (python3 is not installed, and the example app is Python)\n');
const run = randomBytes(3).toString('hex');
let stack: LocalStack;
const controls: ChildProcess[] = [];
let secretsDir: string;
let wrongDir: string;
const ports = { ok: 0, wrong: 0 };

function serveControl(app: string, port: number, dir: string): Promise<void> {
  const child = spawn(
    'python3',
    [join(root, 'examples', 'modal', 'local_control.py'), '--app', app, '--port', String(port), '--secrets-dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  controls.push(child);
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`local_control.py exited ${code}`)));
  });
}

beforeAll(async () => {
  if (!hasPython) return;
  secretsDir = mkdtempSync(join(tmpdir(), 'omtx-modal-secrets-'));
  wrongDir = mkdtempSync(join(tmpdir(), 'omtx-modal-wrong-'));
  ports.ok = await freePort();
  ports.wrong = await freePort();
  stack = await startLocalStack({
    projectId: process.env.GOOGLE_CLOUD_PROJECT!,
    completionsTopic: `cfg-completions-${run}`,
    batchEventsTopic: `cfg-events-${run}`,
    env: {
      JOBS_COLLECTION: `cfg_jobs_${run}`,
      BATCHES_COLLECTION: `cfg_batches_${run}`,
      PIPELINE_COLLECTION_PREFIX: `cfg${run}_`,
      MODAL_APPS: `app-ok-${run}=http://127.0.0.1:${ports.ok},app-wrong-${run}=http://127.0.0.1:${ports.wrong},app-silent-${run}`,
      SECRET_READ_COMMAND: 'printenv CFG_TEST_SECRET',
    },
  });
  // The wrong app's Modal secret was set by hand, with another value.
  mkdirSync(wrongDir, { recursive: true });
  writeFileSync(
    join(wrongDir, `omtx-webhooks-app-wrong-${run}.json`),
    JSON.stringify({
      MODAL_WEBHOOK_SECRET: 'not-the-secret',
      OMTX_WEBHOOK_URL: `${stack.webhookUrl}/api/v3/webhooks/modal/completion`,
    }),
  );
  await serveControl(`app-ok-${run}`, ports.ok, secretsDir);
  await serveControl(`app-wrong-${run}`, ports.wrong, wrongDir);
});

afterAll(async () => {
  for (const c of controls) c.kill();
  await stack?.stop();
});

(hasPython ? it : it.skip)(
  'configures the apps it can, says why the others are not, and never prints the secret',
  async () => {
    // Asynchronously: the local stack's push relay runs in this process and must keep delivering.
    const cli = await new Promise<{ status: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          join(root, 'dist', 'scripts', 'tools', 'configure-modal.js'),
          '--apply',
          '--admin-url',
          stack.adminUrl,
          '--webhook-url',
          `${stack.webhookUrl}${COMPLETION_PATH}`,
          '--secret-from',
          'env:CFG_TEST_SECRET',
          '--wait',
          '20',
        ],
        {
          cwd: root,
          env: {
            ...process.env,
            PATH: `${join(root, 'test', 'support', 'fake-modal')}:${process.env.PATH}`,
            MODAL_SECRETS_DIR: secretsDir,
            CFG_TEST_SECRET: stack.secret,
          },
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (status) => resolve({ status, out }));
    });
    const out = cli.out;
    expect(out).toContain(
      `modal secret create omtx-webhooks-app-ok-${run} MODAL_WEBHOOK_SECRET="$(printenv CFG_TEST_SECRET)"`,
    );
    expect(out).not.toContain(stack.secret);
    expect(out).toMatch(new RegExp(`app-ok-${run}\\s+configured\\s+a delivery verified with the current secret`));
    expect(out).toMatch(new RegExp(`app-wrong-${run}\\s+failing\\s+wrong secret`));
    expect(out).toMatch(new RegExp(`app-silent-${run}\\s+waiting\\s+no control endpoint`));
    expect(cli.status).toBe(1);
    // The stand-in modal CLI received the real secret, read when the command ran.
    const created = JSON.parse(readFileSync(join(secretsDir, `omtx-webhooks-app-ok-${run}.json`), 'utf8'));
    expect(created).toEqual({
      MODAL_WEBHOOK_SECRET: stack.secret,
      OMTX_WEBHOOK_URL: expect.stringMatching(/\/api\/v3\/webhooks\/modal\/completion$/),
      OMTX_APP_NAME: `app-ok-${run}`,
      OMTX_SIGNATURE_SCHEME: 'standard',
    });
    // …from a file, never on its command line (readable by any user in /proc/<pid>/cmdline).
    const argv = readFileSync(join(secretsDir, `omtx-webhooks-app-ok-${run}.argv`), 'utf8');
    expect(argv).toContain('--from-json');
    expect(argv).not.toContain(stack.secret);

    // /status agrees: the configured app signed with the current secret, through the Standard Webhooks scheme.
    const status = await until(
      'status shows the app',
      async () => {
        const body = (await (await fetch(`${stack.adminUrl}/api/v3/webhooks/status`)).json()) as {
          apps: Array<Record<string, unknown>>;
        };
        return body.apps.find((a) => a.app === `app-ok-${run}` && a.configured) ? body : undefined;
      },
      10_000,
    );
    expect(status.apps.find((a) => a.app === `app-ok-${run}`)).toMatchObject({
      expected: true,
      configured: true,
      signed_with: 'current',
      signature_scheme: 'standard',
    });
  },
);

(hasPython ? it : it.skip)(
  'refuses a secret in the request, as the seed allowed: it lives in Secret Manager',
  async () => {
    const res = await fetch(`${stack.adminUrl}/api/v3/webhooks/configure`, {
      method: 'POST',
      headers: ADMIN_POST_HEADERS,
      body: JSON.stringify({ webhook_secret: 'x' }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { message: string }).message).toMatch(/Secret Manager/);
  },
);

describe('runs nothing the admin API tells it', () => {
  /** A stand-in admin API that answers configure as told, and records what it was sent. */
  async function fakeAdmin(answer: Record<string, unknown>, host = '127.0.0.1') {
    const seen: Array<{ authorization?: string }> = [];
    const server = createServer((req, res) => {
      seen.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ apps: [{ app: 'app-one', state: 'waiting', detail: 'x' }], ...answer }));
      });
    });
    await new Promise<void>((r) => server.listen(0, host, r));
    return { port: (server.address() as AddressInfo).port, seen, close: () => server.close() };
  }

  const webhookUrl = `http://127.0.0.1:9/api/v3/webhooks/modal/completion`;

  /** configure-modal --apply with the stand-in modal CLI; what it printed, its exit code, and whether modal ran. */
  async function runCli(adminUrl: string, extra: string[] = []) {
    const secrets = mkdtempSync(join(tmpdir(), 'omtx-foreign-'));
    // Asynchronously: the stand-in admin answers from this process.
    const child = spawn(
      process.execPath,
      [
        join(root, 'dist', 'scripts', 'tools', 'configure-modal.js'),
        '--apply',
        '--admin-url',
        adminUrl,
        '--webhook-url',
        webhookUrl,
        '--secret-from',
        'env:CFG_FOREIGN_SECRET',
        '--wait',
        '0',
        ...extra,
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          PATH: `${join(root, 'test', 'support', 'fake-modal')}:${process.env.PATH}`,
          MODAL_SECRETS_DIR: secrets,
          CFG_FOREIGN_SECRET: 'a-secret-for-this-test-only-0123456789',
        },
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const ran = readdirSync(secrets);
    return { status, out, modalRan: ran.length > 0 };
  }

  it("refuses an admin's secret_read_command other than its own, naming it, and runs no command", async () => {
    const admin = await fakeAdmin({ webhook_url: webhookUrl, secret_read_command: 'printenv HOME' });
    try {
      const cli = await runCli(`http://127.0.0.1:${admin.port}`);
      expect(cli.status).toBe(2);
      expect(cli.out).toContain('secret_read_command "printenv HOME", not "printenv CFG_FOREIGN_SECRET"');
      expect(cli.out).toContain('nothing was run');
      expect(cli.modalRan).toBe(false);
      expect(cli.out).not.toContain(process.env.HOME!);
    } finally {
      admin.close();
    }
  });

  it("refuses an admin's webhook_url other than its own, naming it, and runs no command", async () => {
    const admin = await fakeAdmin({
      webhook_url: 'https://evil.example/api/v3/webhooks/modal/completion',
      secret_read_command: 'printenv CFG_FOREIGN_SECRET',
    });
    try {
      const cli = await runCli(`http://127.0.0.1:${admin.port}`);
      expect(cli.status).toBe(2);
      expect(cli.out).toContain('webhook_url "https://evil.example/api/v3/webhooks/modal/completion"');
      expect(cli.modalRan).toBe(false);
    } finally {
      admin.close();
    }
  });

  it('never sends its token to an admin URL that is neither https nor this machine', async () => {
    const other = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    // Reachable on another interface when the machine has one: then the token would arrive if sent.
    const admin = await fakeAdmin(
      { webhook_url: webhookUrl, secret_read_command: 'printenv CFG_FOREIGN_SECRET' },
      other ? '0.0.0.0' : '127.0.0.1',
    );
    if (!other) process.stdout.write('note: no non-loopback IPv4 address here; checking the refusal alone\n');
    try {
      const host = other?.address ?? '192.0.2.1';
      const cli = await runCli(`http://${host}:${admin.port}`, ['--token', 'an-identity-token']);
      expect(cli.status).toBe(2);
      expect(cli.out).toContain(
        `the admin API must be https (or http on this machine), not "http://${host}:${admin.port}"`,
      );
      expect(admin.seen).toEqual([]);
      expect(cli.modalRan).toBe(false);
    } finally {
      admin.close();
    }
  });
});
