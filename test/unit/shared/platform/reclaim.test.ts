/** Large request bodies are given back soon: the guard drops the body when the response closes, and a collection follows. */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { createBodyGuard } from '../../../../functions/webhook/body-guard';
import { memoryLogger } from '../../../../shared/observability/log';
import { createReclaimer } from '../../../../shared/platform/reclaim';

const tick = () => new Promise((r) => setImmediate(r));

it('collects after a large body, at most once per interval, and never for small ones', async () => {
  let t = 0;
  let runs = 0;
  const reclaimer = createReclaimer({ minBytes: 1000, minIntervalMs: 100, now: () => t, collect: () => runs++ });
  reclaimer.released(999);
  await tick();
  expect(runs).toBe(0);
  reclaimer.released(1000);
  reclaimer.released(5000);
  await tick();
  expect(runs).toBe(1);
  t = 50;
  reclaimer.released(5000);
  await tick();
  expect(runs).toBe(1);
  t = 100;
  reclaimer.released(5000);
  await tick();
  expect(runs).toBe(2);
});

it('lets go of the body once the response is over, so that a kept-alive connection does not hold it', async () => {
  const guard = createBodyGuard({
    limits: { maxBodyBytes: 1 << 20, poolBytes: 1 << 22, smallBodyBytes: 1 << 16, readTimeoutMs: 1000 },
    logger: memoryLogger(),
    clock: () => new Date(),
  });
  const body = Buffer.alloc(300_000, 'a');
  const req = Object.assign(Readable.from([body]), {
    headers: { 'content-length': String(body.length), 'content-type': 'application/json' },
    method: 'POST',
    url: '/',
  }) as never as Readable & { rawBody?: Buffer };
  const res = Object.assign(new EventEmitter(), { headersSent: false });
  await new Promise<void>((resolve) => guard(req as never, res as never, () => resolve()));
  expect(req.rawBody?.length).toBe(body.length);
  res.emit('close');
  expect(req.rawBody).toBeUndefined();
});
