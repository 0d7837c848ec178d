/**
 * `npm run configure-modal -- --apply` against the local stack, as an operator runs it: the example
 * app's control endpoints served locally (examples/modal/local_control.py), the stand-in `modal` CLI
 * on PATH (test/support/fake-modal). One app gets configured, one whose Modal secret is wrong fails
 * with that reason, one without a control endpoint waits; the secret is never printed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../../scripts/local/ports';
import { startLocalStack, type LocalStack } from '../../../../scripts/local/local-stack';
import { until } from '../../../support/until';

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
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ webhook_secret: 'x' }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { message: string }).message).toMatch(/Secret Manager/);
  },
);
