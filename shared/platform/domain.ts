/**
 * The Functions Framework wraps every request in a Node domain (a deprecated module), so that a
 * stray asynchronous throw becomes a 500 for that request instead of a crash. That has two costs:
 *
 * - Constructing the first domain enables the domain module's async hook for the rest of the
 *   process, in or out of any domain: every promise and callback the instance ever creates then
 *   runs its init, before, after and destroy callbacks. Measured on Node 22: an `await` costs ~18×
 *   more; in a CPU profile of the webhook acknowledging 1 KB bodies, the hook and its per-promise
 *   destroy registration were ~10 % of the instance's CPU.
 * - While a domain is entered, every asynchronous resource is tagged with it, and every callback
 *   enters and leaves it again (on the worker, 5.5 ms of CPU per batched completion inside the
 *   domain against 3.9 outside, measured by hand).
 *
 * `replaceRequestDomains` gives the framework a request scope instead: what the framework uses of a
 * domain — an 'error' event for its crash response, `run`, and `process.domain.bind` in the tick
 * `run` schedules — with neither cost.
 *
 * What a domain would catch, these handlers do not throw: they are promise-based, and a rejection
 * reaches the framework through the returned promise (answered 500 as before); a synchronous throw
 * in the framework's tick is the scope's 'error' (500 as before). A throw from a callback scheduled
 * later is uncaught: the framework's process handler answers 500 and the instance restarts — the
 * sender retries and Pub/Sub redelivers every unacknowledged message, so nothing is lost; it is a
 * bug either way, and now a loud one.
 */
import domains from 'node:domain';
import { EventEmitter } from 'node:events';

const processDomain = process as unknown as { domain: unknown };

/**
 * A domain's stand-in for one request: the framework listens for its 'error' and runs the request
 * in it. `process.domain` is this scope while `run`'s function, and the ticks it schedules, run.
 */
export class RequestScope extends EventEmitter {
  run<T>(fn: () => T): T | undefined {
    // Put back as it was afterwards, and called on process meanwhile.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const tick = process.nextTick;
    process.nextTick = ((callback: (...args: unknown[]) => void, ...args: unknown[]) =>
      tick.call(process, () => this.within(() => callback(...args)))) as typeof process.nextTick;
    try {
      return this.within(fn);
    } finally {
      process.nextTick = tick;
    }
  }

  /** The framework binds its completion callback to the active domain: nothing to bind to here. */
  bind<F>(callback: F): F {
    return callback;
  }

  private within<T>(fn: () => T): T | undefined {
    const outer = processDomain.domain;
    processDomain.domain = this;
    try {
      return fn();
    } catch (err) {
      // As a domain: a synchronous throw is the request's error (the framework answers 500).
      this.emit('error', err);
      return undefined;
    } finally {
      processDomain.domain = outer;
    }
  }
}

/** Makes `domain.create()` — the framework's call per request — give a RequestScope. Once, at start. */
export function replaceRequestDomains(): void {
  (domains as { create: () => unknown }).create = () => new RequestScope();
}
