/**
 * What `configure-modal` configures, found by itself and never taken from the admin API's answer:
 * the admin API to ask, the webhook URL the apps must call, and where the secret is read. From its
 * own flags, else Terraform's outputs (`--terraform DIR`), else the running `npm start`. The admin's
 * answer is then only compared with it (`mismatches`): a disagreement stops everything.
 */
import { COMPLETION_PATH } from '../../shared/contract/routes';
import { parseSecretSpec, secretReadCommand, type SecretSource } from '../../shared/modal/secret-source';
import type { LocalState } from '../local/local-state';

export interface ConfigureTarget {
  adminUrl: string;
  webhookUrl: string;
  secret: SecretSource;
  /** Where the values came from, for the first line the tool prints. */
  from: string;
}

export interface TargetFlags {
  adminUrl?: string;
  webhookUrl?: string;
  secretFrom?: string;
  terraformDir?: string;
}

/** The Terraform outputs this reads (terraform/outputs.tf). */
export type TerraformOutputs = Partial<
  Record<'admin_url' | 'webhook_completion_url' | 'project_id' | 'secret_id' | 'secret_version', string>
>;

export class TargetError extends Error {}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a URL names this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

/** A URL the tool may send a token or a secret's destination to: https, or http on this machine. */
export function secureUrl(what: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TargetError(`${what} ${JSON.stringify(value.slice(0, 200))} is not a URL`);
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url)))
    return url.toString().replace(/\/$/, '');
  throw new TargetError(`${what} must be https (or http on this machine), not ${JSON.stringify(value.slice(0, 200))}`);
}

function fromTerraform(outputs: TerraformOutputs): Partial<ConfigureTarget> {
  const { project_id: project, secret_id: secret, secret_version: version } = outputs;
  return {
    ...(outputs.admin_url ? { adminUrl: outputs.admin_url.replace(/\/api\/.*$/, '') } : {}),
    ...(outputs.webhook_completion_url ? { webhookUrl: outputs.webhook_completion_url } : {}),
    ...(project && secret && version ? { secret: parseSecretSpec(`gcloud:${project}/${secret}/${version}`) } : {}),
  };
}

function fromLocalState(state: LocalState): Partial<ConfigureTarget> {
  return { adminUrl: state.adminUrl, webhookUrl: state.webhookUrl, secret: parseSecretSpec(state.secretFrom) };
}

/** The target: flags first, then Terraform's outputs or the local stack, each value checked. */
export function resolveTarget(
  flags: TargetFlags,
  sources: { terraform: (dir: string) => TerraformOutputs; local: () => LocalState | undefined },
): ConfigureTarget {
  const state = flags.terraformDir ? undefined : sources.local();
  const base = flags.terraformDir
    ? fromTerraform(sources.terraform(flags.terraformDir))
    : state
      ? fromLocalState(state)
      : {};
  const from = flags.terraformDir
    ? `Terraform outputs of ${flags.terraformDir}`
    : state
      ? 'the running npm start'
      : 'flags';
  const secretFlag = flags.secretFrom === undefined ? undefined : parseSecretSpec(flags.secretFrom);
  if (flags.secretFrom !== undefined && !secretFlag)
    throw new TargetError(
      `--secret-from ${JSON.stringify(flags.secretFrom.slice(0, 200))}: use env:NAME, file:/absolute/path or gcloud:PROJECT/SECRET/VERSION`,
    );
  const adminUrl = flags.adminUrl ?? base.adminUrl;
  const webhookUrl = flags.webhookUrl ?? base.webhookUrl;
  const secret = secretFlag ?? base.secret;
  if (!adminUrl || !webhookUrl || !secret)
    throw new TargetError(
      'nothing to configure: start `npm start` in another shell, or give --terraform DIR (a deployed project), or --admin-url, --webhook-url and --secret-from',
    );
  if (!new URL(webhookUrl).pathname.endsWith(COMPLETION_PATH))
    throw new TargetError(`the webhook URL ${JSON.stringify(webhookUrl)} does not end in ${COMPLETION_PATH}`);
  return {
    adminUrl: secureUrl('the admin API', adminUrl),
    webhookUrl: secureUrl('the webhook URL', webhookUrl),
    secret,
    from: flags.adminUrl || flags.webhookUrl || flags.secretFrom ? `${from} and flags` : from,
  };
}

/** Where the admin API's answer disagrees with the target, each naming both values; empty when they agree. */
export function mismatches(
  target: ConfigureTarget,
  answer: { webhook_url?: unknown; secret_read_command?: unknown },
): string[] {
  const found: string[] = [];
  const ours = secretReadCommand(target.secret);
  if (answer.webhook_url !== target.webhookUrl)
    found.push(
      `the admin API reports webhook_url ${JSON.stringify(answer.webhook_url)}, not ${JSON.stringify(target.webhookUrl)}`,
    );
  if (answer.secret_read_command !== ours)
    found.push(
      `the admin API reports secret_read_command ${JSON.stringify(answer.secret_read_command)}, not ${JSON.stringify(ours)}`,
    );
  return found;
}
