import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hookNextServer, hookPending } from '../../../../shared/framework/server-hook';

/** A stand-in for the `http` module whose createServer the framework calls. */
const fakeHttp = () => ({ createServer: http.createServer });

async function get(server: http.Server): Promise<{ status: number; text: string }> {
  const { port, address } = server.address() as AddressInfo;
  const res = await fetch(`http://${address}:${port}/x`);
  return { status: res.status, text: await res.text() };
}

it('runs the guard before the listener of the next server only, then removes itself', async () => {
  const module = fakeHttp();
  const seen: string[] = [];
  hookNextServer({ guard: (req, res, next) => (req.url === '/x' ? (seen.push('guard'), next()) : res.end()) }, module);
  expect(hookPending()).toBe(true);
  const server = module.createServer((_req, res) => {
    seen.push('app');
    res.end('ok');
  });
  expect(hookPending()).toBe(false);
  expect(module.createServer).toBe(http.createServer);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  expect(await get(server)).toEqual({ status: 200, text: 'ok' });
  expect(seen).toEqual(['guard', 'app']);
  server.close();
});

it('binds the server to the given host when the framework listens on a port alone', async () => {
  const module = fakeHttp();
  hookNextServer({ host: '127.0.0.1' }, module);
  const server = module.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, r));
  expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
  expect(await get(server)).toEqual({ status: 200, text: 'ok' });
  server.close();
});

it('changes nothing when there is nothing to hook', () => {
  const module = fakeHttp();
  hookNextServer({}, module);
  expect(module.createServer).toBe(http.createServer);
  expect(hookPending()).toBe(false);
});
