/**
 * `npm run configure-modal -- [options]`: points every Modal app at the webhook (the seed's
 * automatic configuration) through the admin API's POST /api/v3/webhooks/configure. It finds what it
 * configures by itself (configure-target.ts) and runs nothing the admin API's answer says: the
 * answer's webhook URL and secret read command must equal its own, or nothing runs. See USAGE.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAdminClient } from './admin-client';
import { APP_NAME, modalSecretCommand, modalSecretName, modalSecretSettings } from '../../shared/modal/modal-config';
import { secretReadCommand } from '../../shared/modal/secret-source';
import { readSecret } from './read-secret';
import { readLocalState } from '../local/local-state';
import {
  mismatches,
  resolveTarget,
  TargetError,
  type ConfigureTarget,
  type TerraformOutputs,
} from './configure-target';

const USAGE = `usage: npm run configure-modal -- [options]

For each Modal app the admin API lists (MODAL_APPS): prints the exact \`modal secret create\`
command that gives it the webhook URL and secret (the secret is read when the command runs, never
printed), runs it with --apply when the modal CLI is installed, then asks each app for a signed
test delivery and says which apps are configured, waiting or failing (and why).

What is configured comes from the running \`npm start\`, or from Terraform's outputs, or from the
flags; the admin API must report the same webhook URL and secret source, or nothing runs.

  --apply              run the modal commands (needs the modal CLI on PATH)
  --show-secret        put the secret's value in the printed commands instead
  --wait SECONDS       how long to wait for the apps' test deliveries (default 20)
  --app NAME           only this app (repeatable)
  --terraform DIR      a deployed project: read admin_url, webhook_completion_url and the
                       secret's project, id and version from \`terraform output\` in DIR
  --admin-url URL      the admin API (https, or http on this machine)
  --webhook-url URL    the webhook's completion URL the apps must call
  --secret-from SPEC   where the secret is read: env:NAME, file:/absolute/path or
                       gcloud:PROJECT/SECRET/VERSION
  --token TOKEN        an identity token for the admin API in production, sent only over https
                       (default $ADMIN_TOKEN; e.g. "$(gcloud auth print-identity-token)")
  --help               this text
`;

interface AppAnswer {
  app: string;
  state: 'configured' | 'waiting' | 'failing';
  detail?: string;
  reason?: string;
}

interface ConfigureAnswer {
  webhook_url?: unknown;
  secret_read_command?: unknown;
  apps: AppAnswer[];
}

async function configure(
  target: ConfigureTarget,
  token: string | undefined,
  body: Record<string, unknown>,
): Promise<ConfigureAnswer> {
  return createAdminClient(target.adminUrl, token).post<ConfigureAnswer>('/configure', body);
}

/**
 * Creates each app's Modal secret: the secret goes to the modal CLI in a 0600 JSON file
 * (`--from-json`), never on a command line that any user can read in /proc.
 */
function applySecrets(target: ConfigureTarget, apps: readonly string[], secret: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'omtx-modal-secret-'));
  try {
    for (const app of apps) {
      const file = join(dir, `${app}.json`);
      const values = { MODAL_WEBHOOK_SECRET: secret, ...modalSecretSettings(app, target.webhookUrl) };
      writeFileSync(file, JSON.stringify(values), { mode: 0o600 });
      process.stdout.write(`\n$ modal secret create ${modalSecretName(app)} --from-json <0600 file> --force\n`);
      execFileSync('modal', ['secret', 'create', modalSecretName(app), '--from-json', file, '--force'], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasModalCli = () => spawnSync('bash', ['-c', 'command -v modal'], { encoding: 'utf8' }).status === 0;

function terraformOutputs(dir: string): TerraformOutputs {
  const out = execFileSync('terraform', [`-chdir=${dir}`, 'output', '-json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const parsed = JSON.parse(out.toString('utf8')) as Record<string, { value?: unknown }>;
  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(parsed))
    if (typeof output.value === 'string') outputs[name] = output.value;
  return outputs;
}

function options() {
  const { values } = parseArgs({
    options: {
      apply: { type: 'boolean', default: false },
      'show-secret': { type: 'boolean', default: false },
      wait: { type: 'string', default: '20' },
      app: { type: 'string', multiple: true },
      terraform: { type: 'string' },
      'admin-url': { type: 'string' },
      'webhook-url': { type: 'string' },
      'secret-from': { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  return values;
}

/** The apps the admin API lists, each checked to be a Modal secret name before it reaches a command. */
function appsOf(answer: ConfigureAnswer): string[] {
  const apps = answer.apps.map((a) => a.app);
  const bad = apps.filter((app) => typeof app !== 'string' || !APP_NAME.test(app));
  if (bad.length) throw new TargetError(`refusing app names that are not Modal secret names: ${JSON.stringify(bad)}`);
  return apps;
}

async function main(): Promise<void> {
  const values = options();
  if (values.help) return void process.stdout.write(USAGE);
  const target = resolveTarget(
    {
      ...(values.terraform ? { terraformDir: values.terraform } : {}),
      ...(values['admin-url'] ? { adminUrl: values['admin-url'] } : {}),
      ...(values['webhook-url'] ? { webhookUrl: values['webhook-url'] } : {}),
      ...(values['secret-from'] ? { secretFrom: values['secret-from'] } : {}),
    },
    { terraform: terraformOutputs, local: readLocalState },
  );
  const token = values.token ?? process.env.ADMIN_TOKEN;
  const only = values.app ? { apps: values.app } : {};
  process.stdout.write(`Admin API ${target.adminUrl} (from ${target.from})\n`);
  const plan = await configure(target, token, { ...only, auto_configure: false });
  const disagreements = mismatches(target, plan);
  if (disagreements.length) throw new TargetError(`${disagreements.join('; ')}: nothing was run`);
  const apps = appsOf(plan);
  const secret = values.apply || values['show-secret'] ? readSecret(target.secret) : undefined;
  const source = values['show-secret'] ? { secret: secret! } : { secretReadCommand: secretReadCommand(target.secret) };
  process.stdout.write(`Webhook: ${target.webhookUrl}\n\nModal secrets, one per app:\n`);
  for (const app of apps) process.stdout.write(`  ${modalSecretCommand(app, target.webhookUrl, source)}\n`);
  if (!values.apply) process.stdout.write('\n(--apply runs them when the modal CLI is installed.)\n');
  else if (!hasModalCli())
    process.stdout.write(
      '\nThe modal CLI is not installed (pip install modal; modal setup): run the commands above yourself.\n',
    );
  else applySecrets(target, apps, secret!);

  process.stdout.write('\nAsking each app for a signed test delivery…\n');
  const checked = await configure(target, token, { ...only, auto_configure: true, wait_seconds: Number(values.wait) });
  for (const a of checked.apps) {
    process.stdout.write(`  ${a.app.padEnd(28)} ${a.state.padEnd(11)} ${a.detail ?? a.reason ?? ''}\n`);
  }
  if (checked.apps.some((a) => a.state === 'failing')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`configure-modal: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof TargetError ? 2 : 1);
});
