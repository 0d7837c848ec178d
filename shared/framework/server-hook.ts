/**
 * A hook in front of the Functions Framework's own request handling. The framework builds its
 * Express app with body parsers that inflate and parse every body (up to 1 GiB) before the function
 * runs, and offers no option to change that (docs/framework-seam.md). It creates its server with
 * `http.createServer(app)` after it has loaded our module, so the module can hand it a server whose
 * request listener runs `guard` first: the guard answers the request itself, or reads the body and
 * calls `next()`. A body read to its end leaves body-parser nothing to do (it skips a request whose
 * stream is finished), so the framework never inflates or parses it.
 *
 * The guard also receives the requests that carry `Expect: 100-continue` (the server's
 * 'checkContinue' event, which Node otherwise answers with `100 Continue` before anyone looks at the
 * headers): it sends `100 Continue` itself when it is ready for the body, or a refusal instead.
 *
 * The hook applies to the next server created and is removed at once, so nothing else in the
 * process is affected. `host` (local only) binds the server to one interface: the framework
 * listens on all of them.
 */
import http from 'node:http';

export type RequestGuard = (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void;

export interface ServerHookOptions {
  guard?: RequestGuard;
  /** Listen on this address only (e.g. 127.0.0.1 for the local stack). */
  host?: string;
}

type CreateServer = typeof http.createServer;

let installed: { original: CreateServer } | undefined;

/** Installs the hook for the next `http.createServer` call; returns a function that removes it unused. */
export function hookNextServer(options: ServerHookOptions, module: { createServer: CreateServer } = http): () => void {
  if (!options.guard && !options.host) return () => undefined;
  const original = module.createServer;
  const restore = () => {
    if (module.createServer === hooked) module.createServer = original;
    installed = undefined;
  };
  const hooked = ((...args: unknown[]) => {
    restore();
    const listener = args.find((a): a is http.RequestListener => typeof a === 'function');
    const rest = args.filter((a) => typeof a !== 'function') as [http.ServerOptions?];
    const guarded: http.RequestListener | undefined =
      listener && options.guard ? (req, res) => options.guard!(req, res, () => listener(req, res)) : listener;
    const server = rest[0] ? original(rest[0], guarded) : original(guarded);
    if (guarded && options.guard) server.on('checkContinue', guarded);
    if (options.host) bindTo(server, options.host);
    return server;
  }) as CreateServer;
  module.createServer = hooked;
  installed = { original };
  return restore;
}

/** Makes `server.listen(port, cb)` listen on `host` only. */
function bindTo(server: http.Server, host: string): void {
  const listen = server.listen.bind(server) as (...args: unknown[]) => http.Server;
  server.listen = ((...args: unknown[]) => {
    if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
      const [port, ...more] = args;
      const callback = more.find((a) => typeof a === 'function');
      return listen(Number(port), host, ...(callback ? [callback] : []));
    }
    return listen(...args);
  }) as typeof server.listen;
}

/** Whether a hook is waiting for its server (tests). */
export const hookPending = () => installed !== undefined;
