/**
 * The webhook's public edge against the real Functions Framework (the version package.json pins),
 * served as Cloud Functions serves it: what an unsigned request can cost. Bodies are read by the
 * webhook's guard before the framework's parsers (docs/request-bodies.md): compressed bodies are
 * refused unread, oversized ones cut, and nothing unsigned is parsed.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { freePort } from '../../../scripts/local/emulators';
import { serveFunction, waitForPort, type ServedFunction } from '../../../scripts/local/serve-function';
import { postRaw } from '../../support/http';
import { untilLogged } from '../../support/until';

jest.setTimeout(120_000);

const secret = 'edge-test-secret-0123456789abcdef';
let port: number;
let webhook: ServedFunction;
const logs: Array<Record<string, unknown>> = [];

/** Resident memory of the webhook's process, in MiB. */
function rssMiB(): number {
  const status = readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

interface Answer { status: number; json: any }

/** A raw POST to the webhook; status 0 when the server cut the connection before answering. */
async function post(headers: Record<string, string | number>, body: Parameters<typeof postRaw>[2]): Promise<Answer> {
  const { status, text } = await postRaw(`http://127.0.0.1:${port}/api/v3/webhooks/modal/completion`, headers, body);
  return { status, json: text ? JSON.parse(text) : null };
}

const now = () => String(Math.floor(Date.now() / 1000));
const forged = { 'content-type': 'application/json', 'x-modal-signature': `sha256=${'a'.repeat(64)}`, 'x-modal-timestamp': now() };

beforeAll(async () => {
  port = await freePort();
  webhook = serveFunction('modalWebhook', 'http', port, {
    MODAL_WEBHOOK_SECRET: secret,
    DRY_RUN: 'true',
    GOOGLE_CLOUD_PROJECT: 'demo-omtx-test',
    METADATA_SERVER_DETECTION: 'none',
    BIND_HOST: '127.0.0.1',
  }, (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ message: line });
    }
  });
  await waitForPort(port, webhook.child, webhook.output);
});

afterAll(() => webhook.stop());

it('refuses a 657-byte brotli bomb (400 MiB inflated) with 415, without inflating it', async () => {
  const before = rssMiB();
  const bomb = brotliCompressSync(Buffer.alloc(400 * 1024 * 1024, 0x20));
  expect(bomb.length).toBeLessThan(1024);
  const answer = await post({ ...forged, 'content-encoding': 'br', 'content-length': bomb.length }, bomb);
  expect(answer).toEqual({ status: 415, json: { error: 'unsupported_encoding', message: expect.stringMatching(/Content-Encoding br/) } });
  expect(rssMiB() - before).toBeLessThan(20);
  const [line] = await untilLogged('requestRejected unsupported_encoding', logs, (l) => l.code === 'unsupported_encoding');
  expect(line).toMatchObject({ event: 'requestRejected', code: 'unsupported_encoding', status: 415 });
});

it('refuses gzip too, signed or not', async () => {
  const body = gzipSync(Buffer.from('{}'));
  expect((await post({ ...forged, 'content-encoding': 'gzip' }, body)).status).toBe(415);
});

it('refuses a declared length over MAX_BODY_BYTES with 413 before reading', async () => {
  // The answer comes before the body; a client still sending may see the connection cut instead (0).
  const answer = await post({ ...forged, 'content-length': 1024 * 1024 * 1024 }, Buffer.alloc(0));
  expect([413, 0]).toContain(answer.status);
  await untilLogged('payload_too_large with its declared length', logs, (l) => l.code === 'payload_too_large' && l.declared_bytes === 1024 * 1024 * 1024);
});

it('cuts a chunked stream at MAX_BODY_BYTES (413)', async () => {
  const before = rssMiB();
  const answer = await post({ ...forged, 'transfer-encoding': 'chunked' }, { chunks: 1024, chunk: Buffer.alloc(64 * 1024, 0x20) });
  expect([413, 0]).toContain(answer.status);
  await untilLogged('payload_too_large of a chunked body', logs, (l) => l.code === 'payload_too_large' && l.declared_bytes === undefined);
  expect(rssMiB() - before).toBeLessThan(100);
});

it('never parses an unsigned 30 MB body of ten million tiny objects: 401, memory near the body size', async () => {
  const before = rssMiB();
  const body = Buffer.from(`{"a":[${'{},'.repeat(10_000_000)}{}]}`);
  const answer = await post({ ...forged, 'content-length': body.length }, body);
  expect(answer).toMatchObject({ status: 401, json: { error: 'bad_signature' } });
  // Parsing it would take ~1 GB; holding it takes its 30 MB.
  expect(rssMiB() - before).toBeLessThan(150);
});

it('accepts a signed completion as before', async () => {
  const body = JSON.stringify({ call_id: 'edge-c1', status: 'success', result: { affinity: 0.5 }, metadata: { job_id: 'edge-j1' } });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const answer = await post({ 'content-type': 'application/json', 'x-modal-signature': signature, 'x-modal-timestamp': now() }, Buffer.from(body));
  expect(answer).toMatchObject({ status: 200, json: { status: 'dry_run' } });
  expect(webhook.restarts).toBe(0);
});

it('listens on loopback only when BIND_HOST says so', async () => {
  const other = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!other) {
    process.stdout.write('skipped: this machine has no non-loopback IPv4 address to try\n');
    return;
  }
  const reached = await fetch(`http://${other.address}:${port}/health`, { signal: AbortSignal.timeout(2000) }).then(() => true, () => false);
  expect(reached).toBe(false);
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
});
