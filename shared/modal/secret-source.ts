/**
 * Where the webhook secret is read when a Modal app is configured: an environment variable (local,
 * CI), a file (the local stack's `.data/secret`), or a Secret Manager version (production). One
 * value, three forms: the `--secret-from` spec a person types (`env:NAME`, `file:/path`,
 * `gcloud:PROJECT/SECRET/VERSION`), the shell command a printed `modal secret create` line reads it
 * with, and the argument vector `configure-modal` runs itself — never a command it was told. Pure.
 */

export type SecretSource =
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'gcloud'; project: string; secret: string; version: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** An absolute path without quotes, NUL or newlines (it is single-quoted in the printed command). */
const FILE_PATH = /^\/[^'\0\n]{1,4096}$/;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const VERSION = /^(latest|[0-9]{1,10})$/;

function checked(source: SecretSource): SecretSource | undefined {
  switch (source.kind) {
    case 'env':
      return ENV_NAME.test(source.name) ? source : undefined;
    case 'file':
      return FILE_PATH.test(source.path) ? source : undefined;
    case 'gcloud':
      return PROJECT.test(source.project) && SECRET_ID.test(source.secret) && VERSION.test(source.version)
        ? source
        : undefined;
  }
}

/** `env:NAME`, `file:/absolute/path` or `gcloud:PROJECT/SECRET/VERSION`; undefined for anything else. */
export function parseSecretSpec(spec: string): SecretSource | undefined {
  const at = spec.indexOf(':');
  const [kind, rest] = [spec.slice(0, at), spec.slice(at + 1)];
  if (kind === 'env') return checked({ kind, name: rest });
  if (kind === 'file') return checked({ kind, path: rest });
  if (kind === 'gcloud') {
    const [project = '', secret = '', version = '', ...more] = rest.split('/');
    return more.length ? undefined : checked({ kind, project, secret, version });
  }
  return undefined;
}

/** The `--secret-from` spec of a source (parseSecretSpec's inverse). */
export function secretSpec(source: SecretSource): string {
  switch (source.kind) {
    case 'env':
      return `env:${source.name}`;
    case 'file':
      return `file:${source.path}`;
    case 'gcloud':
      return `gcloud:${source.project}/${source.secret}/${source.version}`;
  }
}

/** The shell command that prints the secret, as a printed `modal secret create` line runs it. */
export function secretReadCommand(source: SecretSource): string {
  switch (source.kind) {
    case 'env':
      return `printenv ${source.name}`;
    case 'file':
      return `cat '${source.path}'`;
    case 'gcloud':
      return `gcloud secrets versions access ${source.version} --secret=${source.secret} --project=${source.project}`;
  }
}

/** The source a read command of one of the three shapes stands for; undefined for any other command. */
export function parseSecretReadCommand(command: string): SecretSource | undefined {
  const c = command.trim();
  let m = /^printenv (\S+)$/.exec(c);
  if (m) return checked({ kind: 'env', name: m[1]! });
  m = /^cat '([^']*)'$/.exec(c);
  if (m) return checked({ kind: 'file', path: m[1]! });
  m = /^gcloud secrets versions access (\S+) --secret=(\S+) --project=(\S+)$/.exec(c);
  if (m) return checked({ kind: 'gcloud', version: m[1]!, secret: m[2]!, project: m[3]! });
  return undefined;
}

/** The argument vector that prints a Secret Manager version (run without a shell). */
export function gcloudReadArgs(source: Extract<SecretSource, { kind: 'gcloud' }>): string[] {
  return ['secrets', 'versions', 'access', source.version, `--secret=${source.secret}`, `--project=${source.project}`];
}
