/**
 * `npm run configure-modal -- [options]`: points every Modal app at the webhook (the seed's
 * automatic configuration) through the admin API's POST /api/v3/webhooks/configure. See USAGE.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { APP_NAME, modalSecretName, modalSecretSettings, secretReadArgs } from '../../shared/modal/modal-config';
import { readLocalState } from '../local/local-state';

const USAGE = `usage: npm run configure-modal -- [options]

For each Modal app in MODAL_APPS: prints the exact \`modal secret create\` command that gives it the
webhook URL and secret (the secret is read when the command runs, never printed), runs it with
--apply when the modal CLI is installed, then asks each app for a signed test delivery and says
which apps are configured, waiting or failing (and why).

  --apply            run the modal commands (needs the modal CLI on PATH)
  --show-secret      put the secret's value in the commands instead
  --wait SECONDS     how long to wait for the apps' test deliveries (default 20)
  --app NAME         only this app (repeatable)
  --base-url URL     the webhook's public base URL (default: the deployed webhook's)
  --admin-url URL    the admin API (default: the running npm start's)
  --token TOKEN      an identity token for the admin API in production
                     (default $ADMIN_TOKEN; e.g. "$(gcloud auth print-identity-token)")
  --help             this text
`;

interface AppAnswer {
  modal_args: string[];
  app: string;
  control_url: string | null;
  modal_command: string;
  state: 'configured' | 'waiting' | 'failing';
  detail?: string;
  reason?: string;
}

async function configure(
  adminUrl: string,
  token: string | undefined,
  body: Record<string, unknown>,
): Promise<{ webhook_url: string; secret_read_command: string; apps: AppAnswer[] }> {
  const res = await fetch(`${adminUrl.replace(/\/$/, '')}/api/v3/webhooks/configure`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`the admin API answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as { webhook_url: string; secret_read_command: string; apps: AppAnswer[] };
}

/**
 * Creates each app's Modal secret. Nothing from the admin API's answer reaches a shell: the read
 * command must be one of the shapes this project configures and runs as an argument vector, app
 * names and the URL are checked, and the secret goes to the modal CLI in a 0600 JSON file
 * (`--from-json`), never on a command line that any user can read in /proc.
 */
function applySecrets(plan: { webhook_url: string; secret_read_command: string; apps: AppAnswer[] }): void {
  const read = secretReadArgs(plan.secret_read_command);
  if (!read)
    throw new Error(
      `refusing to run the admin API's secret_read_command (not a shape this project configures): ${JSON.stringify(plan.secret_read_command.slice(0, 120))}`,
    );
  const webhookUrl = new URL(plan.webhook_url).toString();
  const bad = plan.apps.map((a) => a.app).filter((app) => !APP_NAME.test(app));
  if (bad.length)
    throw new Error(
      `refusing app names that are not Modal secret names: ${bad.map((b) => JSON.stringify(b.slice(0, 60))).join(', ')}`,
    );
  const secret = execFileSync(read[0]!, read.slice(1), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'omtx-modal-secret-'));
  try {
    for (const a of plan.apps) {
      const file = join(dir, `${a.app}.json`);
      writeFileSync(file, JSON.stringify({ MODAL_WEBHOOK_SECRET: secret, ...modalSecretSettings(a.app, webhookUrl) }), {
        mode: 0o600,
      });
      process.stdout.write(`\n$ modal secret create ${modalSecretName(a.app)} --from-json <0600 file> --force\n`);
      execFileSync('modal', ['secret', 'create', modalSecretName(a.app), '--from-json', file, '--force'], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function hasModalCli(): boolean {
  return spawnSync('bash', ['-c', 'command -v modal'], { encoding: 'utf8' }).status === 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      apply: { type: 'boolean', default: false },
      'show-secret': { type: 'boolean', default: false },
      wait: { type: 'string', default: '20' },
      app: { type: 'string', multiple: true },
      'base-url': { type: 'string' },
      'admin-url': { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const adminUrl = values['admin-url'] ?? readLocalState()?.adminUrl;
  if (!adminUrl) {
    process.stderr.write(
      'configure-modal: no admin API: start `npm start` in another shell, or give --admin-url (terraform output admin_url, without /api/…).\n',
    );
    process.exit(2);
  }
  const token = values.token ?? process.env.ADMIN_TOKEN;
  const common = {
    show_secret: values['show-secret'],
    ...(values.app ? { apps: values.app } : {}),
    ...(values['base-url'] ? { webhook_base_url: values['base-url'] } : {}),
  };

  const plan = await configure(adminUrl, token, { ...common, auto_configure: false });
  process.stdout.write(`Webhook: ${plan.webhook_url}\n\nModal secrets, one per app:\n`);
  for (const a of plan.apps) process.stdout.write(`  ${a.modal_command}\n`);
  if (values.apply) {
    if (!hasModalCli()) {
      process.stdout.write(
        '\nThe modal CLI is not installed (pip install modal; modal setup): run the commands above yourself.\n',
      );
    } else {
      applySecrets(plan);
    }
  } else {
    process.stdout.write('\n(--apply runs them when the modal CLI is installed.)\n');
  }

  process.stdout.write('\nAsking each app for a signed test delivery…\n');
  const checked = await configure(adminUrl, token, {
    ...common,
    auto_configure: true,
    wait_seconds: Number(values.wait),
  });
  for (const a of checked.apps) {
    process.stdout.write(`  ${a.app.padEnd(28)} ${a.state.padEnd(11)} ${a.detail ?? a.reason ?? ''}\n`);
  }
  if (checked.apps.some((a) => a.state === 'failing')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`configure-modal failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
