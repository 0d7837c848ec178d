/**
 * The webhook's first step, before the Functions Framework touches a request: the body is read
 * here under hard limits (shared/platform/request-body.ts) and handed to the handler as
 * `req.rawBody`, never inflated and never parsed before its signature verifies. Refusals are
 * answered here, each with a status, a `requestRejected` log line and no side effect; the rest of a
 * refused body is then drained, so that the sender reads the status rather than a reset
 * (shared/platform/linger.ts). A request with `Expect: 100-continue` is told to send its body only
 * when its headers pass: a refusal goes out instead of `100 Continue`.
 *
 * Every request the guard let through is marked: the handler refuses one without the mark, so a
 * framework update that stops the guard from running (it depends on a hook, server-hook.ts) fails
 * loudly instead of silently parsing unsigned bodies again.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/log';
import type { StatsBuffer } from '../observability/stats';
import type { Clock } from '../ports';
import {
  checkBodyHeaders,
  createBodyBudget,
  declaredLength,
  hasBody,
  readBody,
  type BodyLimits,
  type BodyRefusal,
} from './request-body';
import type { RequestGuard } from './server-hook';
import { lingeringClose, type LingerLimits } from './linger';

export interface BodyGuardDeps {
  limits: BodyLimits;
  logger: Logger;
  clock: Clock;
  stats?: StatsBuffer;
}

/** Seconds a sender is asked to wait when the instance has too many large bodies in flight. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Refusals after which the sender is not worth listening to — too slow (408), or a stream that is
 * broken or made of absurdly small chunks (400) — close the connection at once; every other refusal
 * drains the body first.
 */
const CLOSES_AT_ONCE = new Set<BodyRefusal['code']>(['request_timeout', 'invalid_body']);

/** What the handler asks of the guard about a request's body. */
export interface GuardedBodies {
  /** Whether the guard read this request's body (the handler refuses a completion it did not). */
  passed(req: IncomingMessage): boolean;
  /**
   * The body stays counted in the byte budget until `until` settles: an upload or a publish that
   * holds the bytes past the answer (a client still retrying) keeps them charged, so that a stalled
   * store cannot hold more memory than the budget.
   */
  holdUntil(req: IncomingMessage, until: Promise<unknown>): void;
}

export type BodyGuard = RequestGuard & GuardedBodies;

const expectsContinue = (req: IncomingMessage) => /^\s*100-continue\s*$/i.test(req.headers.expect ?? '');

export function createBodyGuard(deps: BodyGuardDeps): BodyGuard {
  const { limits, logger, clock, stats } = deps;
  // A refused body gets the time an accepted one would, and its sender must keep sending.
  const linger: LingerLimits = {
    maxBytes: 2 * limits.maxBodyBytes,
    idleMs: limits.idleTimeoutMs,
    minBytesPerSecond: limits.minBytesPerSecond,
    totalMs: limits.readTimeoutMs,
  };
  const passed = new WeakSet<IncomingMessage>();
  /** Per request read: what still holds its body, and its release once the answer is out and nothing does. */
  const holds = new WeakMap<IncomingMessage, { pending: number; answered: boolean; release: () => void }>();
  const budget = createBodyBudget(limits);

  /** `continued`: a `100 Continue` went out, so the sender is sending its body. */
  function refuse(req: IncomingMessage, res: ServerResponse, refusal: BodyRefusal, continued = false): void {
    logger.log(refusal.status >= 500 ? 'ERROR' : 'WARNING', 'requestRejected', refusal.message, {
      code: refusal.code,
      status: refusal.status,
      method: req.method,
      path: (req.url ?? '').split('?')[0]!.slice(0, 200),
      declared_bytes: declaredLength(req.headers),
      user_agent: req.headers['user-agent']?.slice(0, 200),
      ...(refusal.code === 'overloaded' ? { budget_held_bytes: budget.held } : {}),
    });
    stats?.count(refusal.code, clock());
    if (res.headersSent) return;
    // A sender that asked before sending (Expect: 100-continue) has sent nothing: nothing to drain.
    const closes = CLOSES_AT_ONCE.has(refusal.code) || (expectsContinue(req) && !continued);
    const body = JSON.stringify({ error: refusal.code, message: refusal.message });
    res.writeHead(refusal.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      // The rest of the body is not wanted: the connection cannot be reused.
      connection: 'close',
      ...(refusal.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {}),
    });
    if (!closes) void lingeringClose(req, linger);
    res.end(body);
  }

  const guard: RequestGuard = (req, res, next) => {
    if (!hasBody(req.headers)) {
      passed.add(req);
      next();
      return;
    }
    const early = checkBodyHeaders(req.headers, limits);
    if (early) {
      refuse(req, res, early);
      return;
    }
    // Only reached through the server's 'checkContinue' (server-hook.ts): the sender waits for this.
    const continued = expectsContinue(req);
    if (continued) res.writeContinue();
    readBody(req, req.headers, limits, budget).then(
      (read) => {
        if (!read.ok) {
          refuse(req, res, read.refusal, continued);
          return;
        }
        const withBody = req as IncomingMessage & { rawBody?: Buffer };
        const hold = { pending: 0, answered: false, release: read.release };
        holds.set(req, hold);
        res.once('close', () => {
          // A kept-alive connection holds on to its last request until the next one arrives.
          withBody.rawBody = undefined;
          hold.answered = true;
          if (hold.pending === 0) hold.release();
        });
        withBody.rawBody = read.body;
        passed.add(req);
        next();
      },
      () =>
        refuse(
          req,
          res,
          { code: 'invalid_body', status: 400, message: 'the request body could not be read' },
          continued,
        ),
    );
  };
  return Object.assign(guard, {
    passed: (req: IncomingMessage) => passed.has(req),
    holdUntil: (req: IncomingMessage, until: Promise<unknown>) => {
      const hold = holds.get(req);
      if (!hold) return;
      hold.pending++;
      const settled = () => {
        if (--hold.pending === 0 && hold.answered) hold.release();
      };
      until.then(settled, settled);
    },
  });
}
