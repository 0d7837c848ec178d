/**
 * The webhook served as an instance serves it: its body guard (shared/framework/body-guard.ts) in
 * front of the real Functions Framework server, the handler told which requests the guard let
 * through. Pass `bodies` to serve the handler alone (the framework then reads bodies).
 */
import { createWebhookHandler, type WebhookDeps } from '../../functions/webhook/handler';
import { createBodyGuard } from '../../shared/framework/body-guard';
import { hookNextServer } from '../../shared/framework/server-hook';
import { serveHttp, type Served } from './http';

export type ServedWebhookDeps = Omit<WebhookDeps, 'bodies'> & Partial<Pick<WebhookDeps, 'bodies'>>;

export async function serveWebhook(deps: ServedWebhookDeps): Promise<Served> {
  if (deps.bodies) return serveHttp(createWebhookHandler({ ...deps, bodies: deps.bodies }));
  const guard = createBodyGuard({
    limits: { maxBodyBytes: deps.config.maxBodyBytes, ...deps.config.body },
    logger: deps.logger,
    clock: deps.clock,
    ...(deps.stats ? { stats: deps.stats } : {}),
  });
  hookNextServer({ guard });
  return serveHttp(createWebhookHandler({ ...deps, bodies: guard }));
}
