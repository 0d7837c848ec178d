/**
 * `POST /api/v3/webhooks/configure` (the seed's automatic configuration): for each Modal app, the
 * exact command that gives it the webhook URL and secret, and — with `auto_configure` — proof that
 * it works: its control endpoint is asked for a signed test delivery, and the app is `configured`
 * once a delivery from it verifies with the current secret.
 */
import { z } from 'zod';
import type { AdminConfig } from '../../shared/config/config';
import { HttpError } from '../../shared/platform/errors';
import type { Logger } from '../../shared/observability/log';
import type { ModalClient } from '../../shared/modal/modal-client';
import { modalSecretCommand } from '../../shared/modal/modal-config';
import { operatorOf } from './identity';
import type { AdminStore, Clock } from '../../shared/ports';
import { parse } from './requests';
import { route, type Route } from './router';
import { createAppChecks } from './app-checks';
import { COMPLETION_PATH } from '../../shared/contract/routes';

const configureSchema = z.strictObject({
  /** The seed's field: the webhook's public base URL (default: the deployed webhook's). */
  webhook_base_url: z.url({ protocol: /^https?$/ }).optional(),
  /** The seed's field; refused: the secret lives in Secret Manager. */
  webhook_secret: z.string().optional(),
  /** Ask each app for a test delivery and wait for it (the seed's field). */
  auto_configure: z.boolean().default(true),
  /** Put the secret's value in the commands instead of a command that reads it. */
  show_secret: z.boolean().default(false),
  wait_seconds: z.number().int().min(0).max(60).default(20),
  apps: z.array(z.string()).optional(),
});

export interface ConfigureDeps {
  config: Readonly<AdminConfig>;
  store: Pick<AdminStore, 'listApps'>;
  modal: ModalClient;
  clock: Clock;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export function createConfigureRoute(prefix: string, deps: ConfigureDeps): Route {
  const { config, store, modal, clock, logger } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  const checkApps = createAppChecks({ store, modal, clock, sleep });

  function webhookUrlOf(baseUrl: string | undefined): string {
    const url = baseUrl ? `${baseUrl.replace(/\/$/, '')}${COMPLETION_PATH}` : config.webhookUrl;
    if (!url) throw new HttpError('not_configured', 503, 'WEBHOOK_URL is not set and no webhook_base_url was given');
    return url;
  }

  return route('POST', `${prefix}/configure`, async (req) => {
    const input = parse(configureSchema, req.body, 'body');
    const operator = operatorOf(req, config.deployed) ?? 'unknown';
    if (input.show_secret && !config.allowShowSecret) {
      logger.log('WARNING', 'requestRejected', 'configure asked for the raw secret in a deployed admin: refused', {
        code: 'forbidden',
        status: 403,
        operator,
      });
      throw new HttpError(
        'forbidden',
        403,
        'a deployed admin does not show the secret (set ADMIN_ALLOW_SHOW_SECRET=true to allow it); the commands read it from Secret Manager when they run',
      );
    }
    if (input.webhook_secret !== undefined) {
      throw new HttpError(
        'invalid_request',
        422,
        'webhook_secret is not taken here: the secret lives in Secret Manager (rotate it there, docs/deploy.md)',
      );
    }
    const webhookUrl = webhookUrlOf(input.webhook_base_url);
    const apps = config.modalApps.filter((a) => !input.apps || input.apps.includes(a.name));
    if (apps.length === 0)
      throw new HttpError(
        'not_configured',
        503,
        'no Modal apps: set MODAL_APPS (name or name=control-url, comma-separated)',
      );
    const states = await checkApps(apps, input.auto_configure, input.wait_seconds);
    const source = input.show_secret ? { secret: config.secret } : { secretReadCommand: config.secretReadCommand };
    const answer = apps.map((a) => ({
      app: a.name,
      control_url: a.controlUrl ?? null,
      modal_command: modalSecretCommand(a.name, webhookUrl, source),
      ...states.get(a.name)!,
    }));
    logger.log('INFO', 'modalConfigured', 'Modal apps configuration checked', {
      apps: answer.map((a) => `${a.app}:${a.state}`).join(','),
      secret_shown: input.show_secret,
      operator,
    });
    return {
      status: 200,
      body: {
        webhook_url: webhookUrl,
        secret_shown: input.show_secret,
        secret_read_command: config.secretReadCommand,
        configured: answer.filter((a) => a.state === 'configured').length,
        total: answer.length,
        apps: answer,
      },
    };
  });
}
