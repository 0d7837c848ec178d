/**
 * Handlers run outside the Functions Framework's per-request domain. The framework enters a Node
 * domain (a deprecated module) around every request, so that a stray asynchronous throw becomes a
 * 500 for that request instead of a crash. While a domain is entered, every asynchronous resource
 * the request creates is tagged with it, and every callback and promise reaction enters and leaves
 * it again: measured by hand on the worker, 5.5 ms of CPU per batched completion inside the
 * domain against 3.9 outside (`npm run bench -- --only worker` prints the worker's figure today).
 *
 * What the domain would catch, these handlers do not throw: they are promise-based, and a rejection
 * still reaches the framework through the returned promise (answered 500 as before). A truly
 * uncaught exception reaches the framework's process handler instead, which answers 500 and
 * restarts the instance — the sender retries and Pub/Sub redelivers every unacknowledged message,
 * so nothing is lost; it is a bug either way, and now a loud one.
 */
import type { EventEmitter } from 'node:events';

type ActiveDomain = EventEmitter & { exit(): void };

/** Leaves every domain entered around the current call. */
export function leaveDomains(): void {
  const current = () => (process as { domain?: ActiveDomain | null }).domain;
  for (let d = current(); d; d = current()) d.exit();
}

/** `handler`, run with no domain entered: what it starts is not tagged with the request's domain. */
export function outsideDomain<A extends unknown[], R>(handler: (...args: A) => R): (...args: A) => R {
  return (...args: A) => {
    leaveDomains();
    return handler(...args);
  };
}
