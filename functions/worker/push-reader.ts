/**
 * The worker's first step, before the Functions Framework parses a push: the body is read here
 * (shared/platform/request-body.ts) and parsed by shared/contract/push-body.ts, which decodes a
 * large message's data straight from the bytes. The framework then finds the body parsed (its
 * parsers skip a request marked `_body`) and builds the CloudEvent from it as before; the decoded
 * data reaches the handler through `pushedData()`, within the request's own async context.
 *
 * Why: parsed by the framework, a 4.9 MiB completion is held as the body's bytes (kept as
 * `rawBody` until the connection's next request), the body's text and the data string — ~20 MB
 * for each of the 16 pushes that arrive at once. Here a request holds its bytes until they are
 * decoded, then the decoded data alone.
 *
 * A request that is not a JSON POST goes to the framework untouched. A body that cannot be read,
 * or is not JSON, is refused with its status and a `requestRejected` line (Pub/Sub redelivers it,
 * and dead-letters it after its attempts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { readPushBody } from '../../shared/contract/push-body';
import type { Logger } from '../../shared/observability/log';
import { createBodyBudget, hasBody, readBody, type BodyLimits } from '../../shared/platform/request-body';
import { createReclaimer } from '../../shared/platform/reclaim';
import type { RequestGuard } from '../../shared/platform/server-hook';

/** A push is at most a 10 MB message, base64-encoded, with its attributes: well within these. */
export const PUSH_LIMITS: BodyLimits = {
  maxBodyBytes: 32 * 1024 * 1024,
  poolBytes: 512 * 1024 * 1024,
  smallBodyBytes: 1024 * 1024,
  readTimeoutMs: 60_000,
};

export interface PushReader {
  guard: RequestGuard;
  /** The data decoded for the push being handled, if the reader decoded it. */
  pushedData: () => Buffer | undefined;
}

const isJson = (req: IncomingMessage) => /^\s*application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '');

export function createPushReader(logger: Logger, limits: BodyLimits = PUSH_LIMITS): PushReader {
  const context = new AsyncLocalStorage<Buffer>();
  const budget = createBodyBudget(limits);
  // Pushes of 4 MiB and more are given back once answered, not at V8's leisure (reclaim.ts).
  const reclaimer = createReclaimer({ minBytes: 4 * 1024 * 1024, minIntervalMs: 200 });
  const guard: RequestGuard = (req, res, next) => {
    if (req.method !== 'POST' || !hasBody(req.headers) || !isJson(req)) {
      next();
      return;
    }
    const refuse = (status: number, code: string, message: string) => {
      logger.log('WARNING', 'requestRejected', message, { code, status });
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: code, message }));
    };
    readBody(req, req.headers, limits, budget).then(
      (read) => {
        // Only the length: the close handler must not keep the body alive.
        const bytes = read.ok ? read.body.length : 0;
        const release = read.release;
        res.once('close', () => {
          release();
          reclaimer.released(bytes);
        });
        if (!read.ok) return refuse(read.refusal.status, read.refusal.code, read.refusal.message);
        const pushed = readPushBody(read.body);
        if (!pushed) return refuse(400, 'invalid_json', 'push body is not valid JSON');
        Object.assign(req, { body: pushed.value, _body: true });
        if (pushed.data) context.run(pushed.data, next);
        else next();
      },
      () => refuse(400, 'invalid_body', 'the push body could not be read'),
    );
  };
  return { guard, pushedData: () => context.getStore() };
}
