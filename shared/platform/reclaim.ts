/**
 * Gives the memory of a large request body back soon after the request ends. Buffers live outside
 * V8's heap and are freed only when a garbage collection finds them unreachable; V8 starts one
 * for external memory only after it grew by tens of megabytes, so three 32 MB bodies (each also
 * leaving 32 MB of socket chunks behind) stacked up to ~250 MiB in a fresh webhook before one ran.
 * After a body of `minBytes` or more, one full collection runs (a few milliseconds on this small
 * heap), at most once per `minIntervalMs`. Node exposes no collection call without a flag:
 * `--expose-gc` is set at run time, and the function is taken from a fresh context.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

function collector(): (() => void) | undefined {
  if (collect) return collect;
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  } catch {
    collect = undefined;
  }
  return collect;
}

export function createReclaimer(options: {
  minBytes: number;
  minIntervalMs: number;
  now?: () => number;
  collect?: () => void;
}) {
  const now = options.now ?? Date.now;
  let last = -Infinity;
  let pending = false;
  return {
    /** Called when a request whose body had `bytes` is over. */
    released(bytes: number): void {
      if (bytes < options.minBytes || pending || now() - last < options.minIntervalMs) return;
      const gc = options.collect ?? collector();
      if (!gc) return;
      pending = true;
      // After the response's own close handlers have let go of the request.
      setImmediate(() => {
        pending = false;
        last = now();
        gc();
      });
    },
  };
}
