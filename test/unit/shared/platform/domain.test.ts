/**
 * outsideDomain: a handler the framework calls inside a request's domain runs with none entered, so
 * what it starts is not tagged with the domain; its rejection still reaches the caller.
 */
import { create } from 'node:domain';
import { outsideDomain } from '../../../../shared/platform/domain';

const active = () => (process as { domain?: unknown }).domain;

it('runs the handler, and what it schedules, with no domain entered', async () => {
  const d = create();
  const seen: unknown[] = [];
  const handler = outsideDomain(async (x: number) => {
    seen.push(active());
    await new Promise((r) => setTimeout(r, 1));
    seen.push(active());
    return x * 2;
  });
  const result = await new Promise<number>((resolve) => d.run(() => void handler(21).then(resolve)));
  expect(result).toBe(42);
  expect(seen).toEqual([undefined, undefined]);
  // Without it, the same handler would run in the domain (the cost it avoids).
  const inside = await new Promise<unknown>((resolve) => d.run(() => resolve(active())));
  expect(inside).toBe(d);
});

it('hands a rejection back to the caller, as the framework expects of a promise-based handler', async () => {
  const d = create();
  const handler = outsideDomain(async () => {
    await Promise.resolve();
    throw new Error('store unavailable');
  });
  const outcome = await new Promise((resolve) =>
    d.run(() => void handler().then(resolve, (err: Error) => resolve(err.message))),
  );
  expect(outcome).toBe('store unavailable');
});
