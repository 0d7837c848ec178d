/**
 * Configuring the Modal side (the seed's "automatic configuration"), pure: which apps there are,
 * the exact `modal secret create` command that gives one its webhook URL and secret, and what the
 * evidence says about it — configured once a signed delivery from it verified with the current
 * secret. The secret itself appears in a command only when asked; otherwise the command reads it
 * where it lives (Secret Manager, or the local stack's file) when it runs.
 */

export interface ModalApp {
  name: string;
  /** The app's control endpoint (status, cancel, test delivery), when it has one. */
  controlUrl?: string;
}

/**
 * What an app name may be: the characters of a Modal secret name (letters, digits, `.`, `_`, `-`),
 * short enough that `omtx-webhooks-<app>` stays within Modal's 64. A name is printed into shell
 * commands and passed to the modal CLI, so nothing else is let through.
 */
export const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;

/** `MODAL_APPS`: `name` or `name=https://control-url`, comma-separated; MODAL_CONTROL_URL serves apps without their own. */
export function parseModalApps(spec: string, defaultControlUrl?: string): ModalApp[] {
  // Names are checked where the list is configured (config-operations.ts), with the variable's name.
  return spec
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf('=');
      const name = at < 0 ? entry : entry.slice(0, at).trim();
      const url = at < 0 ? defaultControlUrl : entry.slice(at + 1).trim();
      return { name, ...(url ? { controlUrl: url } : {}) };
    });
}

/** The Modal secret an app reads (examples/modal/boltz2_app.py): one per app. */
export const modalSecretName = (app: string) => `omtx-webhooks-${app}`;

/**
 * The scheme an app's Modal secret tells the sender kit to sign with: Standard Webhooks, which signs
 * the timestamp too (a captured request cannot be resent later). Re-running an app's command moves
 * an app that still signs the seed's body-only way.
 */
export const BOUND_SCHEME = 'standard';

/** A word as a shell reads it back unchanged: bare when it is plain, else single-quoted. */
export const shellQuote = (value: string) =>
  /^[A-Za-z0-9._\/:=@%+,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * The command that (re)creates an app's Modal secret. Without `secret`, the value is read by
 * `secretReadCommand` when the command runs, so it is never printed.
 */
export function modalSecretCommand(
  app: string,
  webhookUrl: string,
  source: { secret: string } | { secretReadCommand: string },
): string {
  const value = 'secret' in source ? `'${source.secret.replace(/'/g, `'\\''`)}'` : `"$(${source.secretReadCommand})"`;
  const settings = Object.entries(modalSecretSettings(app, webhookUrl)).map(([k, v]) => shellQuote(`${k}=${v}`));
  return [
    'modal',
    'secret',
    'create',
    shellQuote(modalSecretName(app)),
    `MODAL_WEBHOOK_SECRET=${value}`,
    ...settings,
    '--force',
  ].join(' ');
}

/** What an app's Modal secret holds besides the secret itself. */
export function modalSecretSettings(app: string, webhookUrl: string): Record<string, string> {
  return { OMTX_WEBHOOK_URL: webhookUrl, OMTX_APP_NAME: app, OMTX_SIGNATURE_SCHEME: BOUND_SCHEME };
}

export type AppState =
  { state: 'configured'; detail: string } | { state: 'waiting'; detail: string } | { state: 'failing'; reason: string };

/** What is known of an app since `since`: its last verified webhook, and the answer to a test delivery asked of it. */
export function appState(input: {
  since: Date;
  verified?: { at: Date; signedWith: 'current' | 'previous'; scheme?: string };
  test?:
    | { kind: 'no_control' }
    | { kind: 'unreachable'; error: string }
    | { kind: 'refused'; status: number }
    | { kind: 'delivered'; webhookStatus: number; webhookError?: string };
}): AppState {
  const fresh = input.verified && input.verified.at.getTime() >= input.since.getTime() ? input.verified : undefined;
  if (fresh?.signedWith === 'current')
    return {
      state: 'configured',
      detail: `a delivery verified with the current secret at ${fresh.at.toISOString()} (${fresh.scheme ?? 'modal'} scheme)`,
    };
  if (fresh?.signedWith === 'previous')
    return {
      state: 'failing',
      reason: 'previous secret still in use: run its modal secret command again and redeploy the app',
    };
  const test = input.test;
  if (test?.kind === 'unreachable') return { state: 'failing', reason: `control endpoint unreachable: ${test.error}` };
  if (test?.kind === 'refused') {
    return {
      state: 'failing',
      reason:
        test.status === 401
          ? 'wrong secret: the app refused our signed request (401)'
          : `the app's control endpoint answered ${test.status}`,
    };
  }
  if (test?.kind === 'delivered' && test.webhookStatus >= 400) {
    return {
      state: 'failing',
      reason:
        `the app's test delivery got ${test.webhookStatus} ${test.webhookError ?? ''}`.trim() +
        (test.webhookError === 'bad_signature' ? ': wrong secret' : ''),
    };
  }
  if (test?.kind === 'delivered')
    return { state: 'waiting', detail: 'test delivery accepted; waiting for the worker to record it' };
  return {
    state: 'waiting',
    detail: 'no control endpoint: configured once its next webhook verifies with the current secret',
  };
}
