/**
 * The Python sender in examples/modal against this project's receiver: the same known-answer
 * vector, a real signed delivery through the webhook, retries with backoff, no retry on 4xx.
 */
import { signControl } from '../../../shared/contract/control';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createLocalBlobStore } from '../../../shared/adapters/local-files';
import { loadWebhookConfig } from '../../../shared/config/config';
import { memoryLogger } from '../../../shared/observability/log';
import type { Publisher } from '../../../shared/ports';
import { sign, signStandard, verifyRequest } from '../../../shared/contract/signature';
import { serveWebhook } from '../../support/webhook';

const examples = join(__dirname, '..', '..', '..', 'examples', 'modal');
const hasPython = spawnSync('python3', ['--version']).status === 0;
if (!hasPython) process.stdout.write('skipping the Python sender tests: python3 is not installed on this machine\n');
const pyIt = hasPython ? it : it.skip;

/** Runs Python without blocking the event loop (the servers under test live in this process). */
function python(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', args, { cwd: examples, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (status) => resolve({ status, out: out.trim(), err: err.trim() }));
  });
}
const py = (code: string) => python(['-c', code]);

const VECTOR = '{"call_id":"call-123456789","status":"success","metadata":{"job_id":"job-abc123"}}';

pyIt('signs the known-answer vector exactly as the receiver does', async () => {
  const r = await py(`import omtx_webhooks as m; print(m.sign('omtx-test-secret', b'${VECTOR}'))`);
  expect(r.out).toBe('sha256=d039d0e7cc968e6f145ff3a50bbf09b563a9a558daa9d258b12b3cc8e76cfe7a');
  expect(r.out).toBe(sign('omtx-test-secret', VECTOR));
});

pyIt("signs the Standard Webhooks vectors (the specification's and ours) exactly as the receiver does", async () => {
  const r = await py(`import omtx_webhooks as m
print(m.sign_standard('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, b'{"test": 2432232314}'))
print(m.sign_standard('omtx-test-secret', 'msg_omtx_vector', 1764345600, b'${VECTOR}'))`);
  expect(r.out.split('\n')).toEqual([
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    'v1,GluBFaK0UpEJjhULdT03SrmTZDV9jTBh+9BJgBJAhEc=',
  ]);
  expect(r.out.split('\n')[1]).toBe(signStandard('omtx-test-secret', 'msg_omtx_vector', 1764345600, VECTOR));
});

pyIt(
  'signs with the scheme its Modal secret names (OMTX_SIGNATURE_SCHEME, set by configure), the bound one by default',
  async () => {
    const code = `import omtx_webhooks as m; print(sorted(k for k in m.signed_headers('k3y-0123456789abcdef-0123', b'{}') if 'ignature' in k))`;
    expect((await python(['-c', code], { OMTX_SIGNATURE_SCHEME: '' })).out).toBe("['webhook-signature']");
    expect((await python(['-c', code], { OMTX_SIGNATURE_SCHEME: 'standard' })).out).toBe("['webhook-signature']");
    expect((await python(['-c', code], { OMTX_SIGNATURE_SCHEME: 'modal' })).out).toBe("['X-Modal-Signature']");
  },
);

pyIt('signs control requests exactly as the pipeline does (a shared vector)', async () => {
  const r = await py(
    `import omtx_webhooks as m; print(m.sign_control('omtx-test-secret', 'POST', '/cancel', 1764345600, b'${VECTOR}'))`,
  );
  expect([r.status, r.err]).toEqual([0, '']);
  expect(r.out).toBe(signControl('omtx-test-secret', 'POST', '/cancel', 1764345600, VECTOR));
});

pyIt(
  'verifies what the pipeline signs (status, cancel), and refuses it replayed to another path, stale, forged, or signed as a webhook',
  async () => {
    const now = Math.floor(Date.now() / 1000);
    const secret = 's3cret-value-0123456789abcdef';
    const body = '{"call_id":"c1"}';
    const sig = signControl(secret, 'POST', '/status', now, body);
    const r = await py(`import omtx_webhooks as m
b = b'{"call_id":"c1"}'
print(m.verify_control('${secret}', 'POST', '/status', b, '${sig}', '${now}'),
      m.verify_control('${secret}', 'POST', '/cancel', b, '${sig}', '${now}'),
      m.verify_control('${secret}', 'POST', '/status', b, '${sig}', '${now - 400}'),
      m.verify_control('other-secret-0123456789abcdef', 'POST', '/status', b, '${sig}', '${now}'),
      m.verify_control('${secret}', 'POST', '/status', b, '${sign(secret, body)}', '${now}'),
      m.verify('${secret}', b, '${sig}', '${now}'))`);
    expect(r.out).toBe('True False False False False False');
  },
);

pyIt(
  'refuses crafted timestamps and signatures without raising: superscript digits, non-ASCII, absurd lengths',
  async () => {
    const r = await py(`import omtx_webhooks as m
b = b'{}'
cases = [('sha256=' + 'a' * 64, '\\u00b2'), ('sha256=' + 'a' * 64, '\\u0661\\u0662'), ('sha256=' + 'a' * 64, '9' * 400),
         ('sha256=\\u00e9', '1'), ('v1=\\u00e9', '1'), ('', '1'), ('x', '')]
out = []
for sig, ts in cases:
    out.append(m.verify('k' * 24, b, sig, ts))
    out.append(m.verify_control('k' * 24, 'POST', '/status', b, sig, ts))
print(all(v is False for v in out), len(out))`);
    expect([r.status, r.err, r.out]).toEqual([0, '', 'True 14']);
  },
);

pyIt('delivers a signed completion that the webhook accepts and publishes', async () => {
  const messages: Array<Record<string, string>> = [];
  const publisher: Publisher = { topic: 't', publish: async (_d, a) => (messages.push(a), '1') };
  const dir = mkdtempSync(join(tmpdir(), 'omtx-py-'));
  const served = await serveWebhook({
    config: loadWebhookConfig({ MODAL_WEBHOOK_SECRET: 'python-secret-0123456789', RESULTS_DIR: dir }),
    publisher,
    claims: createLocalBlobStore(dir),
    clock: () => new Date(),
    logger: memoryLogger(),
    version: 'test',
  });
  try {
    const r = await python(
      [
        'omtx_webhooks.py',
        '--url',
        `${served.url}/api/v3/webhooks/modal/completion`,
        '--job-id',
        'job-python',
        '--call-id',
        'call-python',
      ],
      { MODAL_WEBHOOK_SECRET: 'python-secret-0123456789\n' },
    );
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toMatchObject({ status: 'accepted', delivery_id: expect.stringMatching(/^dlv_/) });
    expect(messages[0]).toMatchObject({
      call_id: 'call-python',
      job_id: 'job-python',
      status: 'success',
      signature_scheme: 'standard',
    });
    const seed = await python(
      [
        'omtx_webhooks.py',
        '--scheme',
        'modal',
        '--url',
        `${served.url}/api/v3/webhooks/modal/completion`,
        '--job-id',
        'job-python-2',
      ],
      { MODAL_WEBHOOK_SECRET: 'python-secret-0123456789' },
    );
    expect(JSON.parse(seed.out)).toMatchObject({ status: 'accepted' });
    expect(messages[1]).toMatchObject({ job_id: 'job-python-2', signature_scheme: 'modal' });
  } finally {
    await served.close();
  }
});

(hasPython ? it : it.skip)(
  'has a command line: --help, and a clear message instead of a traceback when there is no secret',
  async () => {
    const help = await python(['omtx_webhooks.py', '--help']);
    expect(help.status).toBe(0);
    expect(help.out).toMatch(/--url URL/);
    expect(help.out.replace(/\s+/g, '')).toContain('localhost:8080/api/v3/webhooks/modal/completion');
    const noSecret = await python(['omtx_webhooks.py', '--url', 'http://127.0.0.1:9/'], {
      MODAL_WEBHOOK_SECRET: '',
      HOME: tmpdir(),
    });
    if (!existsSync(join(examples, '..', '..', '.data', 'secret'))) {
      expect(noSecret.status).toBe(2);
      expect(noSecret.err).toMatch(/no secret: export MODAL_WEBHOOK_SECRET/);
      expect(noSecret.err).not.toMatch(/Traceback/);
    }
  },
);

async function scriptedServer(statuses: number[]) {
  const seen: Array<{ headers: Record<string, string>; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ headers: req.headers as Record<string, string>, body });
      const status = statuses[Math.min(seen.length - 1, statuses.length - 1)]!;
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify(status === 202 ? { status: 'accepted' } : { error: 'x' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen, close: () => server.close() };
}

pyIt('retries 5xx with backoff, re-signing every attempt, until accepted', async () => {
  const s = await scriptedServer([503, 503, 202]);
  const r = await py(`import omtx_webhooks as m, json
print(json.dumps(m.send_completion('${s.url}', 'k3y-0123456789abcdef', m.completion_body('c', 'success', 'j'), base_delay=0.01)))`);
  s.close();
  expect(r.out).toBe('{"status": "accepted"}');
  expect(s.seen).toHaveLength(3);
  for (const attempt of s.seen) {
    const verdict = verifyRequest({
      rawBody: Buffer.from(attempt.body),
      headers: { get: (n) => attempt.headers[n] },
      secrets: ['k3y-0123456789abcdef'],
      schemes: ['standard'],
      nowSeconds: Math.floor(Date.now() / 1000),
      toleranceSeconds: 300,
    });
    expect(verdict).toMatchObject({ ok: true, scheme: 'standard' });
  }
  // One webhook id for every attempt of one completion: the receiver may drop a repeat by it.
  expect(new Set(s.seen.map((a) => a.headers['webhook-id'])).size).toBe(1);
});

pyIt('gives up at once on a 4xx that retrying cannot fix', async () => {
  const s = await scriptedServer([401]);
  const r = await py(`import omtx_webhooks as m
try:
    m.send_completion('${s.url}', 'k', b'{}', base_delay=0.01)
except m.DeliveryFailed as e:
    print('failed:', e)`);
  s.close();
  expect(r.out).toMatch(/^failed: HTTP 401/);
  expect(s.seen).toHaveLength(1);
});
