/**
 * The admin API (HTTP function `webhookAdmin`, private: IAM-authenticated in production). The seed
 * guide's operator endpoints, computed from real state — read routes in queries.ts, commands in
 * commands.ts, the operator page's in overview-route.ts, batch-routes.ts and dead-letter-routes.ts —
 * behind one router, the cross-site refusal (cross-site.ts) and the error mapping the webhook uses;
 * and the operator page itself (page-assets.ts). Described in docs/openapi.yaml.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { AdminConfig } from '../../shared/config/config';
import { errorAnswer, HttpError } from '../../shared/platform/errors';
import type { Logger } from '../../shared/observability/log';
import { createModalClient } from '../../shared/modal/modal-client';
import type { AdminStore, Clock, OperatorStore, Publisher } from '../../shared/ports';
import { createCommandRoutes } from './commands';
import { createConfigureRoute } from './configure';
import { crossSiteRefusal } from './cross-site';
import { createBatchRoutes } from './batch-routes';
import { createDeadLetterRoutes } from './dead-letter-routes';
import { createOverviewRoute } from './overview-route';
import { API_SECURITY_HEADERS, type PageAssets } from './page-assets';
import { createQueryRoutes } from './queries';
import { matchRoute } from './router';

export interface AdminDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  /** The operator page's reads and the dead letters' replay marks. */
  operator: OperatorStore;
  /** The operator page's files; none: the page answers 404 (an admin built without it). */
  page?: PageAssets;
  /** The completions topic: batch checks after registration or cancel. */
  completions: Publisher;
  /** Whether the completions topic exists and can be reached. */
  topicReachable: () => Promise<boolean>;
  fetch: typeof fetch;
  clock: Clock;
  logger: Logger;
  version: string;
}

const PREFIX = '/api/v3/webhooks';

export function createAdminHandler(deps: AdminDeps) {
  const { config, store, clock, logger } = deps;
  const modal = createModalClient({
    secret: config.secret,
    fetch: deps.fetch,
    clock,
    userAgent: 'OMTX-Webhooks-Admin/1.0',
  });
  const routes = [
    ...createQueryRoutes(PREFIX, { config, store, topicReachable: deps.topicReachable, clock, version: deps.version }),
    ...createCommandRoutes(PREFIX, { config, store, completions: deps.completions, modal, clock, logger }),
    createConfigureRoute(PREFIX, { config, store, modal, clock, logger }),
    createOverviewRoute(PREFIX, { config, store, operator: deps.operator, topicReachable: deps.topicReachable, clock }),
    ...createBatchRoutes(PREFIX, { store, operator: deps.operator, clock }),
    ...createDeadLetterRoutes(PREFIX, {
      config,
      operator: deps.operator,
      completions: deps.completions,
      clock,
      logger,
    }),
  ];

  async function webhookAdmin(req: Request, res: Response): Promise<void> {
    const started = clock().getTime();
    // As the webhook does: caller-chosen text goes into a log line at most 200 characters long.
    const path = req.path.slice(0, 200);
    let status = 500;
    try {
      if (deps.page?.serve(req, res)) {
        status = res.statusCode;
        return;
      }
      res.set(API_SECURITY_HEADERS);
      const match = matchRoute(routes, req.method, req.path);
      if (match.kind === 'not_found') throw new HttpError('not_found', 404, `no route for ${path}`);
      if (match.kind === 'bad_escape')
        throw new HttpError('invalid_request', 400, `the path's ${match.key} has a malformed percent-escape`);
      if (match.kind === 'wrong_method') {
        res.set('Allow', match.allow.join(', '));
        throw new HttpError('method_not_allowed', 405, `use ${match.allow.join(' or ')}`);
      }
      const refusal = crossSiteRefusal({ method: req.method, headers: req.headers }, config.allowedOrigins);
      if (refusal) throw refusal;
      const result = await match.route.handle(req, match.params);
      status = result.status;
      res.status(result.status).json(result.body);
    } catch (err) {
      const answer = errorAnswer(err, { code: 'unavailable', status: 503, message: 'a backing service failed; retry' });
      status = answer.status;
      logger.log(answer.log.severity, 'adminRejected', answer.error.message, {
        ...answer.log.fields,
        method: req.method,
        path,
      });
      res.status(answer.status).json(answer.body);
    } finally {
      logger.log('INFO', 'adminRequest', `${req.method} ${path} → ${status}`, {
        method: req.method,
        path,
        status,
        duration_ms: clock().getTime() - started,
      });
    }
  }

  /** `METHOD /path` of every route, for docs/openapi.yaml's consistency test. */
  return Object.assign(webhookAdmin, { routes: routes.map((r) => r.path) });
}
