/**
 * The webhook's first step, before the Functions Framework touches a request: the body is read
 * here under hard limits (shared/platform/request-body.ts) and handed to the handler as
 * `req.rawBody`, never inflated and never parsed before its signature verifies. Refusals are
 * answered here, each with a status, a `requestRejected` log line and no side effect.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/observability/log';
import type { StatsBuffer } from '../../shared/observability/stats';
import type { Clock } from '../../shared/ports';
import { checkBodyHeaders, createBodyBudget, declaredLength, hasBody, readBody, type BodyLimits, type BodyRefusal } from '../../shared/platform/request-body';
import type { RequestGuard } from '../../shared/platform/server-hook';
import { createReclaimer } from '../../shared/platform/reclaim';

export interface BodyGuardDeps {
  limits: BodyLimits;
  logger: Logger;
  clock: Clock;
  stats?: StatsBuffer;
}

/** Seconds a sender is asked to wait when the instance has too many large bodies in flight. */
const RETRY_AFTER_SECONDS = 2;

export function createBodyGuard(deps: BodyGuardDeps): RequestGuard {
  const { limits, logger, clock, stats } = deps;
  const budget = createBodyBudget(limits);
  // Bodies of 8 MiB and more (claim-checked ones) are given back at once, not at V8's leisure.
  const reclaimer = createReclaimer({ minBytes: 8 * 1024 * 1024, minIntervalMs: 200 });

  function refuse(req: IncomingMessage, res: ServerResponse, refusal: BodyRefusal): void {
    logger.log(refusal.status >= 500 ? 'ERROR' : 'WARNING', 'requestRejected', refusal.message, {
      code: refusal.code,
      status: refusal.status,
      method: req.method,
      path: (req.url ?? '').split('?')[0]!.slice(0, 200),
      declared_bytes: declaredLength(req.headers),
      user_agent: req.headers['user-agent']?.slice(0, 200),
    });
    stats?.count(refusal.code, clock());
    if (res.headersSent) return;
    const body = JSON.stringify({ error: refusal.code, message: refusal.message });
    res.writeHead(refusal.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      // The rest of the body is never read: the connection cannot be reused.
      connection: 'close',
      ...(refusal.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {}),
    });
    res.end(body);
  }

  return (req, res, next) => {
    if (!hasBody(req.headers)) {
      next();
      return;
    }
    const early = checkBodyHeaders(req.headers, limits);
    if (early) {
      refuse(req, res, early);
      return;
    }
    readBody(req, req.headers, limits, budget).then((read) => {
      if (!read.ok) {
        refuse(req, res, read.refusal);
        return;
      }
      const bytes = read.body.length;
      const withBody = req as IncomingMessage & { rawBody?: Buffer };
      res.once('close', () => {
        read.release();
        // A kept-alive connection holds on to its last request until the next one arrives: drop
        // the body from it, so that the collection below frees it.
        withBody.rawBody = undefined;
        reclaimer.released(bytes);
      });
      withBody.rawBody = read.body;
      next();
    }, () => refuse(req, res, { code: 'invalid_body', status: 400, message: 'the request body could not be read' }));
  };
}
