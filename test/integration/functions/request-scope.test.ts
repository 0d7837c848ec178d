/**
 * replaceRequestDomains (shared/platform/domain.ts) through the real Functions Framework, in a
 * plain Node process as Cloud Functions runs it (a test sandbox's `process.domain` cannot be set):
 * requests run in a RequestScope, never a Node domain, so the domain module's process-wide async
 * hook is never turned on, and the framework's answers stay what they were with domains.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

/** Serves `handlers` (source of an object: name → [kind, handler]) and posts once to each. */
function run(handlers: string, installScopes = true) {
  const script = `
    const functions = require('@google-cloud/functions-framework');
    const { getTestServer } = require('@google-cloud/functions-framework/testing');
    const domains = require('node:domain');
    const { replaceRequestDomains, RequestScope } = require('./dist/shared/platform/domain.js');
    let realDomains = 0;
    const create = domains.create;
    domains.create = () => { realDomains++; return create(); };
    if (${installScopes}) replaceRequestDomains();
    const seen = {};
    const handlers = ${handlers};
    (async () => {
      const out = {};
      for (const [name, [kind, handler]] of Object.entries(handlers)) {
        functions[kind](name, (...args) => {
          const d = process.domain;
          seen[name] = { scope: d instanceof RequestScope, domain: d instanceof domains.Domain, errorListeners: d ? d.listenerCount('error') : 0 };
          return handler(...args);
        });
        const server = getTestServer(name);
        await new Promise((r) => server.listen(0, '127.0.0.1', r));
        const res = await fetch('http://127.0.0.1:' + server.address().port + '/projects/p/topics/t', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: { data: Buffer.from('{}').toString('base64') }, subscription: 's' }),
        });
        out[name] = { status: res.status, crash: res.headers.get('x-google-status'), ...seen[name] };
        server.close();
      }
      out.afterwards = { domain: process.domain ?? null, realDomains };
      console.log(JSON.stringify(out));
    })();
  `;
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    timeout: 30_000,
  });
  if (result.status !== 0) throw new Error(`the child failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

const HANDLERS = `{
  ok: ['http', (req, res) => res.status(202).send('ok')],
  throws: ['http', () => { throw new Error('bug'); }],
  rejects: ['http', async () => { await null; throw new Error('store unavailable'); }],
  event: ['cloudEvent', async () => {}],
  eventRejects: ['cloudEvent', async () => { throw new Error('transient'); }],
}`;

it('runs HTTP handlers in a request scope with the framework’s error listener, event handlers in none, and creates no domain', () => {
  const out = run(HANDLERS);
  for (const name of ['ok', 'throws', 'rejects'])
    expect([name, out[name].scope, out[name].domain, out[name].errorListeners]).toEqual([name, true, false, 1]);
  // The framework calls an event handler from a promise reaction, where nothing is entered now.
  for (const name of ['event', 'eventRejects'])
    expect([name, out[name].scope, out[name].domain]).toEqual([name, false, false]);
  expect(out.afterwards).toEqual({ domain: null, realDomains: 0 });
});

it('answers as the framework answers with domains: 202, 500 for a throw or a rejection, 204 for an event', () => {
  const answers = (out: Record<string, { status: number; crash: string | null }>) =>
    Object.fromEntries(
      ['ok', 'throws', 'rejects', 'event', 'eventRejects'].map((n) => [n, [out[n]!.status, out[n]!.crash]]),
    );
  const withScopes = answers(run(HANDLERS));
  const withDomains = run(HANDLERS, false);
  expect(withDomains.afterwards.realDomains).toBe(5);
  expect(withScopes).toEqual(answers(withDomains));
  expect(withScopes).toEqual({
    ok: [202, null],
    throws: [500, 'crash'],
    rejects: [500, 'crash'],
    event: [204, null],
    eventRejects: [500, 'error'],
  });
});
