/**
 * The one call that puts this project's seam into the Functions Framework (docs/framework-seam.md):
 * the framework's body-parser errors become one structured line without the body, and the server
 * the framework is about to create runs `guard` before its Express app and listens on `host` only.
 * `functions/index.ts` makes it once, after registering the function the instance serves.
 */
import type { Logger } from '../observability/log';
import { filterBodyParserErrors } from './framework-errors';
import { hookNextServer, type RequestGuard } from './server-hook';

export interface FrameworkSeam {
  /** Reads every request before the framework does (the public webhook's body guard). */
  guard?: RequestGuard;
  /** Listen on this address only (the local stack's 127.0.0.1); unset: every interface. */
  host?: string;
  /** Where the framework prints errors (the process's console). */
  console: Pick<Console, 'error'>;
  logger: Logger;
}

let installed = false;

export function installFrameworkSeam(seam: FrameworkSeam): void {
  if (installed) throw new Error('installFrameworkSeam: already installed in this process');
  installed = true;
  filterBodyParserErrors(seam.console, seam.logger);
  hookNextServer({ ...(seam.guard ? { guard: seam.guard } : {}), ...(seam.host ? { host: seam.host } : {}) });
}
