/**
 * A stand-in for a Modal app's control endpoint on loopback: it records every signed request the
 * admin sends (cancel, test delivery) with whether its signature verified, and answers 200.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyControl } from '../../shared/contract/control';

export interface ControlCall {
  path: string;
  body: any;
  signatureOk: boolean;
}

/** Whether `req`, whose body is `raw`, carries a valid control signature under `secret`. */
export function signedByControl(secret: string, req: IncomingMessage, raw: Buffer): boolean {
  return verifyControl({
    secret,
    method: req.method!,
    path: req.url!,
    body: raw,
    signature: req.headers['x-omtx-control-signature'] as string,
    timestamp: req.headers['x-omtx-control-timestamp'] as string,
    nowSeconds: Math.floor(Date.now() / 1000),
    toleranceSeconds: 300,
  });
}

export async function fakeModalControl(secret: string): Promise<{ url: string; calls: ControlCall[]; server: Server }> {
  const calls: ControlCall[] = [];
  const server = createServer(
    (req: IncomingMessage, res) =>
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const raw = Buffer.concat(chunks);
        calls.push({
          path: req.url ?? '',
          body: JSON.parse(raw.toString()),
          signatureOk: signedByControl(secret, req, raw),
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"cancelled":true}');
      })(),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, server };
}
