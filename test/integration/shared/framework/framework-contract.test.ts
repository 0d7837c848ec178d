/**
 * The framework contract: what the seam (shared/framework/, docs/framework-seam.md) relies on in
 * the Functions Framework, body-parser and Node, checked against the versions installed. A fixture
 * function (test/fixtures/framework-seam/) is served by the framework's own main.js, as Cloud
 * Functions serves ours, with the seam installed as functions/index.ts installs it. When an upgrade
 * changes one of these behaviours, its test fails naming the assumption and the record's section
 * that says what to check and change.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../../../scripts/local/ports';
import { serveFunction, waitForPort, type ServedFunction } from '../../../../scripts/local/serve-function';
import { rawRequest, requestHead } from '../../../support/http';
import { untilLogged } from '../../../support/until';

jest.setTimeout(60_000);

const FIXTURE = join(__dirname, '..', '..', '..', 'fixtures', 'framework-seam');

/** Runs `check`; a failure says which assumption of the seam broke and where the record says what to do. */
async function holds(assumption: string, section: string, check: () => Promise<void> | void): Promise<void> {
  try {
    await check();
  } catch (err) {
    throw new Error(
      `The framework seam's assumption no longer holds: ${assumption}.\n` +
        `See docs/framework-seam.md#${section} for what to check and change.\n\n${(err as Error).message}`,
    );
  }
}

interface Served {
  fn: ServedFunction;
  port: number;
  lines: Array<Record<string, unknown>>;
}

async function serve(target: string): Promise<Served> {
  const port = await freePort();
  const lines: Array<Record<string, unknown>> = [];
  const fn = serveFunction(
    target,
    'http',
    port,
    { BIND_HOST: '127.0.0.1' },
    (line) => {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ text: line });
      }
    },
    FIXTURE,
  );
  await waitForPort(port, fn.child, fn.output);
  return { fn, port, lines };
}

const call = async (s: Served, path: string, init: RequestInit = {}) => {
  const res = await fetch(`http://127.0.0.1:${s.port}${path}`, { method: 'POST', ...init });
  return { status: res.status, crash: res.headers.get('x-google-status'), text: await res.text() };
};

describe('with the body guard in front (the webhook instance)', () => {
  let s: Served;
  beforeAll(async () => (s = await serve('contractGuarded')));
  afterAll(() => s.fn.stop());

  it('the framework creates its server with http.createServer after loading the function', async () => {
    await holds('a request reaches the handler through the guard', 'the-server-hook', async () => {
      const answer = await call(s, '/body', { body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toMatchObject({ passed: true });
    });
  });

  it('body-parser skips a request whose stream the guard has read to its end', async () => {
    await holds('the framework never parses a body the guard has read', 'the-body-guard', async () => {
      const body = '{"call_id":"c","nested":{"deep":[1,2,3]}}';
      const answer = await call(s, '/body', { body, headers: { 'content-type': 'application/json' } });
      expect(JSON.parse(answer.text)).toEqual({ passed: true, parsed: false, raw: body.length });
    });
  });

  it.each([
    ['an EventEmitter error', '/emitter-error'],
    ['a throw in a timer', '/timer-throw'],
  ])('answers %s during a request with 500 for that request, and the instance keeps serving', async (_what, path) => {
    await holds(`the framework's per-request domain catches ${_what}`, 'errors-inside-a-request', async () => {
      const pid = s.fn.child.pid;
      expect(await call(s, path)).toMatchObject({ status: 500, crash: 'crash' });
      expect(await call(s, '/ok', { method: 'GET' })).toMatchObject({ status: 200 });
      expect([s.fn.child.pid, s.fn.restarts]).toEqual([pid, 0]);
    });
  });

  it('Node hands a request with Expect: 100-continue to checkContinue, and the guard answers it', async () => {
    await holds('a refused request gets its status instead of 100 Continue', 'the-server-hook', async () => {
      const head = requestHead(
        { 'content-type': 'application/json', expect: '100-continue', 'content-length': 1 << 30 },
        '/body',
      );
      const answer = await rawRequest(s.port, head, undefined, { waitForContinueMs: 1000 });
      expect(answer).toMatchObject({ status: 413, continued: false });
    });
  });

  it('the framework listens with server.listen(port, callback), so BIND_HOST binds loopback only', async () => {
    await holds('the server listens on 127.0.0.1 alone when BIND_HOST says so', 'the-server-hook', () => {
      expect(listeners(s.port)).toEqual(['127.0.0.1']);
    });
  });
});

describe('with the framework parsing bodies (the worker, admin and reconciler)', () => {
  let s: Served;
  beforeAll(async () => (s = await serve('contractParsed')));
  afterAll(() => s.fn.stop());

  it('Express prints a body-parser error through console.error, where the filter keeps the body out', async () => {
    await holds(
      'a malformed JSON body is logged by its reason, never by its bytes',
      'the-body-parser-error-filter',
      async () => {
        const answer = await call(s, '/', {
          body: '{"secret-payload":',
          headers: { 'content-type': 'application/json' },
        });
        expect(answer.status).toBe(400);
        await untilLogged(
          'requestRejected invalid_json',
          s.lines,
          (l) => l.event === 'requestRejected' && l.code === 'invalid_json',
        );
        expect(JSON.stringify(s.lines)).not.toContain('secret-payload');
      },
    );
  });
});

describe('Node’s HTTP server', () => {
  it('ends a Connection: close response through socket.destroySoon, which the lingering close replaces', async () => {
    await holds('Node closes a Connection: close response with destroySoon', 'the-lingering-close', async () => {
      let called = false;
      const server = http.createServer((req, res) => {
        const socket = req.socket as typeof req.socket & { destroySoon: () => void };
        const original = socket.destroySoon.bind(socket);
        socket.destroySoon = () => {
          called = true;
          original();
        };
        res.writeHead(413, { connection: 'close', 'content-length': 0 });
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;
      const answer = await rawRequest(port, requestHead({ 'content-length': 10 }, '/'), Buffer.from('0123456789'));
      server.close();
      expect(answer.status).toBe(413);
      expect(called).toBe(true);
    });
  });
});

/** The addresses listening on `port` (Linux /proc/net/tcp and tcp6, state LISTEN). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A' || !local.endsWith(`:${hexPort}`)) continue;
      const hex = local.split(':')[0]!;
      found.push(
        hex.length === 8
          ? hex
              .match(/../g)!
              .reverse()
              .map((b) => parseInt(b, 16))
              .join('.')
          : `[${hex}]`,
      );
    }
  }
  return found;
}
