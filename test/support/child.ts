import type { ChildProcess } from 'node:child_process';

/**
 * A child's exit code, once its output has arrived too: 'exit' can come before the last bytes on
 * its pipes, so this waits for 'close' (bounded, in case a grandchild still holds a pipe).
 */
export function exitedWithOutput(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('close', (code: number | null) => resolve(code));
    child.once('exit', (code: number | null) => setTimeout(() => resolve(code), 10_000).unref());
  });
}
