/**
 * Lingering after a refusal, as nginx's `lingering_close` does. A server that answers 413 or 503
 * before reading a body and then closes its socket with the body's bytes still unread makes the
 * kernel send a reset, and a sender still writing sees the reset instead of the answer (measured
 * through the local stack: a 40 MiB body written in full got 2 resets out of 10; 48 large
 * completions at once, 11 dropped). A dropped connection tells a sender "maybe delivered, retry at
 * once"; the status says "never retry" (413) or "retry later" (503), so the status must arrive.
 *
 * So the answer says `Connection: close` (the sender must not reuse a connection whose body the
 * server did not take), the write side is ended after it, and the rest of the body is read and
 * thrown away — every chunk dropped as it comes, nothing kept — until it ends; then the socket is
 * closed. The drain is bounded as reading a body is (arrival.ts): past `maxBytes`, or once the
 * sender stalls — no byte for the idle timeout, under the minimum rate, not done within the read
 * timeout — the socket is destroyed. A sender still sending at a fair rate reads its answer.
 *
 * Node ends a `Connection: close` response with `socket.destroySoon()` (end, then destroy once
 * written), which is the reset. `lingeringClose` replaces that one socket's `destroySoon` with an
 * `end()` for as long as the drain lasts; the edge tests fail if Node stops calling it.
 */
import type { IncomingMessage } from 'node:http';
import { watchArrival, type ArrivalLimits } from './arrival';

export interface LingerLimits extends ArrivalLimits {
  /** Bytes read and discarded at most. */
  maxBytes: number;
}

/** How a drain ended: the body's end was read (`drained`), or the bounds cut it (`cut`), or the peer left (`closed`). */
export type LingerOutcome = { end: 'drained' | 'cut' | 'closed'; discarded: number };

/** Reads and discards what is left of `req`'s body within `limits`; destroys the socket past them. */
export function drainBody(req: IncomingMessage, limits: LingerLimits): Promise<LingerOutcome> {
  if (req.complete || req.readableEnded) return Promise.resolve({ end: 'drained', discarded: 0 });
  return new Promise((resolve) => {
    let discarded = 0;
    let done = false;
    const finish = (end: LingerOutcome['end']) => {
      if (done) return;
      done = true;
      arrival.stop();
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      if (end === 'cut') req.socket.destroy();
      resolve({ end, discarded });
    };
    const arrival = watchArrival(limits, () => finish('cut'));
    const onData = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > limits.maxBytes) return finish('cut');
      arrival.arrived(chunk.length);
    };
    const onEnd = () => finish('drained');
    const onClose = () => finish(req.complete ? 'drained' : 'closed');
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
    req.once('error', onClose);
    req.resume();
  });
}

/**
 * Call before ending a `Connection: close` answer to a request whose body may not have been read:
 * the connection's write side closes after the answer, its read side after the body is drained.
 */
export function lingeringClose(req: IncomingMessage, limits: LingerLimits): Promise<LingerOutcome> {
  const socket = req.socket;
  const own = socket as unknown as { destroySoon?: () => void };
  let closeRequested = false;
  own.destroySoon = () => {
    closeRequested = true;
    if (socket.writable) socket.end();
  };
  return drainBody(req, limits).then((outcome) => {
    delete own.destroySoon; // the prototype's again
    if (closeRequested && !socket.destroyed) socket.destroySoon();
    return outcome;
  });
}
