/**
 * The webhook through the real Functions Framework server, with a recording publisher and a
 * temporary results directory: every route, every rejection, and what reaches Pub/Sub.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore } from '../../../../shared/adapters/local-files';
import { loadWebhookConfig } from '../../../../shared/config/config';
import { deliveryId } from '../../../../shared/contract/delivery';
import { memoryLogger } from '../../../../shared/observability/log';
import type { Publisher } from '../../../../shared/ports';
import { decodeCompletionBody } from '../../../../shared/contract/messages';
import { sign, signStandard } from '../../../../shared/contract/signature';
import { fixture } from '../../../support/fixtures';
import { postSigned, type Served } from '../../../support/http';
import { serveWebhook, type ServedWebhookDeps } from '../../../support/webhook';

const SECRET = 'whsec_dW5pdC10ZXN0LWtleWtra2tra2tra2tra2tra2tra2s=';
const PREVIOUS = 'whsec_cHJldmlvdXMtdGVzdC1rZXlra2tra2tra2tra2tra2s=';

interface Published {
  data: Buffer;
  attributes: Record<string, string>;
}

function recordingPublisher(fail = false): Publisher & { messages: Published[] } {
  const messages: Published[] = [];
  return {
    topic: 'modal-completions',
    messages,
    async publish(data, attributes) {
      if (fail) throw new Error('14 UNAVAILABLE: connection refused');
      messages.push({ data, attributes });
      return String(messages.length);
    },
  };
}

describe('modalWebhook', () => {
  let dir: string;
  let served: Served;
  let publisher: ReturnType<typeof recordingPublisher>;
  let logger: ReturnType<typeof memoryLogger>;

  async function start(env: Record<string, string> = {}, failPublish = false, deps: Partial<ServedWebhookDeps> = {}) {
    await served?.close();
    publisher = recordingPublisher(failPublish);
    logger = memoryLogger();
    const config = loadWebhookConfig({
      MODAL_WEBHOOK_SECRET: SECRET,
      MODAL_WEBHOOK_SECRET_PREVIOUS: PREVIOUS,
      RESULTS_DIR: dir,
      ...env,
    });
    served = await serveWebhook({
      config,
      publisher,
      claims: createLocalBlobStore(dir),
      clock: () => new Date(),
      logger,
      version: 'test',
      ...deps,
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'omtx-webhook-'));
    await start();
  });
  afterAll(async () => {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const seedBody = () => JSON.stringify(fixture('seed-success'));

  it.each(['/', '/api/v3/webhooks/modal/completion'])(
    'accepts a signed seed payload on %s and publishes it with ids',
    async (path) => {
      const before = publisher.messages.length;
      // A body of its own per path: the same signed body twice is a replay (next test).
      const body = JSON.stringify({ ...fixture('seed-success'), path });
      const res = await postSigned(served.url, body, { secret: SECRET, path });
      const id = deliveryId('call-123456789', 'success');
      expect(res.status).toBe(202);
      expect(res.json).toEqual({ status: 'accepted', delivery_id: id, message_id: String(before + 1) });
      const message = publisher.messages.at(-1)!;
      expect(message.data.toString()).toBe(body);
      expect(message.attributes).toMatchObject({
        schema_version: '1',
        kind: 'completion',
        call_id: 'call-123456789',
        status: 'success',
        job_id: 'job-abc123',
        batch_id: 'batch-xyz789',
        delivery_id: id,
        source: 'webhook',
      });
      expect(Date.parse(message.attributes.received_at!)).not.toBeNaN();
    },
  );

  it('answers a replay of the same signed body (fresh timestamp) with the first message id, and publishes nothing', async () => {
    const body = JSON.stringify({ ...fixture('seed-success'), replay_probe: true });
    const first = await postSigned(served.url, body, { secret: SECRET });
    const published = publisher.messages.length;
    const again = await postSigned(served.url, body, { secret: SECRET, timestamp: Math.floor(Date.now() / 1000) + 5 });
    expect(again.status).toBe(202);
    expect(again.json).toEqual({ ...first.json, replay: true });
    expect(publisher.messages.length).toBe(published);
    expect(logger.lines.find((l) => l.event === 'webhookReplayed')).toMatchObject({
      delivery_id: first.json.delivery_id,
      message_id: first.json.message_id,
    });
  });

  it('gives the same delivery id to a retry with another timestamp, and another id to another status', async () => {
    const a = await postSigned(served.url, seedBody(), {
      secret: SECRET,
      timestamp: Math.floor(Date.now() / 1000) - 10,
    });
    const b = await postSigned(served.url, seedBody(), { secret: SECRET });
    const c = await postSigned(served.url, JSON.stringify({ ...fixture('seed-success'), status: 'function.failure' }), {
      secret: SECRET,
    });
    expect(a.json.delivery_id).toBe(b.json.delivery_id);
    expect(c.json.delivery_id).not.toBe(a.json.delivery_id);
    expect(publisher.messages.at(-1)!.attributes.status).toBe('failure');
  });

  it('accepts a body signed with the previous secret during rotation', async () => {
    expect((await postSigned(served.url, seedBody(), { secret: PREVIOUS })).status).toBe(202);
  });

  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ['missing_signature', { headers: { 'x-modal-signature': '' } }],
    ['malformed_signature', { signature: 'sha1=abcdef' }],
    ['bad_signature', { signature: sign('wrong-secret', '{}') }],
    ['missing_timestamp', { headers: { 'x-modal-timestamp': '' } }],
    ['stale_timestamp', { timestamp: now() - 301 }],
    ['future_timestamp', { timestamp: now() + 400 }],
  ])('rejects %s with 401, logs the code, publishes nothing, leaks nothing', async (reason, options) => {
    const before = publisher.messages.length;
    const linesBefore = logger.lines.length;
    const res = await postSigned(served.url, seedBody(), { secret: SECRET, ...options });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe(reason);
    expect(publisher.messages.length).toBe(before);
    const line = logger.lines.at(-1)!;
    expect(line).toMatchObject({ severity: 'WARNING', event: 'signatureRejected', reason });
    const everything = JSON.stringify(logger.lines.slice(linesBefore)) + JSON.stringify(res.json);
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(sign(SECRET, seedBody()).slice(7));
    expect(everything).not.toContain('job-abc123');
  });

  it('rejects a tampered body (signature of the original)', async () => {
    const original = seedBody();
    const tampered = original.replace('0.6385', '0.9999');
    const res = await postSigned(served.url, tampered, { secret: SECRET, signature: sign(SECRET, original) });
    expect(res).toMatchObject({ status: 401, json: { error: 'bad_signature' } });
  });

  it('answers malformed JSON with 400 once signed, 401 unsigned, and publishes nothing', async () => {
    // The guard reads the body and nothing parses it before its signature verifies.
    const before = publisher.messages.length;
    expect((await postSigned(served.url, '{"call_id":', { secret: 'nope' })).status).toBe(401);
    expect((await postSigned(served.url, '{"call_id":', { secret: SECRET })).status).toBe(400);
    expect(publisher.messages.length).toBe(before);
  });

  it('answers signed malformed JSON sent with another content type with 415, unsigned with 401', async () => {
    const headers = { 'content-type': 'text/plain' };
    expect((await postSigned(served.url, '{"call_id":', { secret: SECRET, headers })).json.error).toBe(
      'unsupported_media_type',
    );
    expect((await postSigned(served.url, '{"call_id":', { secret: 'nope', headers })).status).toBe(401);
  });

  it('answers a signed payload that fails the schema with 422 and the failing paths', async () => {
    const before = publisher.messages.length;
    const res = await postSigned(served.url, JSON.stringify({ call_id: 'c1', status: 'done', metadata: {} }), {
      secret: SECRET,
    });
    expect(res.status).toBe(422);
    expect(res.json.error).toBe('invalid_payload');
    expect(res.json.issues.map((i: { path: string }) => i.path).sort()).toEqual(['metadata.job_id', 'status']);
    expect(publisher.messages.length).toBe(before);
    expect(logger.lines.at(-1)).toMatchObject({ event: 'requestRejected', code: 'invalid_payload', status: 422 });
  });

  it('gives no schema details to an unsigned request', async () => {
    const res = await postSigned(served.url, JSON.stringify({ call_id: 'c1' }), { secret: 'not-the-secret' });
    expect(res.status).toBe(401);
    expect(res.json.issues).toBeUndefined();
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await postSigned(served.url, seedBody(), { secret: SECRET, headers: { 'content-type': 'text/plain' } });
    expect(res).toMatchObject({ status: 415, json: { error: 'unsupported_media_type' } });
  });

  it('answers 503 when Pub/Sub does not take the message, so that Modal retries', async () => {
    await start({}, true);
    const res = await postSigned(served.url, seedBody(), { secret: SECRET });
    expect(res).toMatchObject({ status: 503, json: { error: 'publish_failed' } });
    expect(logger.lines.at(-1)).toMatchObject({ severity: 'ERROR', event: 'publishFailed' });
    await start();
  });

  it('verifies and validates but does not publish in DRY_RUN', async () => {
    await start({ DRY_RUN: 'true' });
    const res = await postSigned(served.url, seedBody(), { secret: SECRET });
    expect(res).toMatchObject({
      status: 200,
      json: { status: 'dry_run', delivery_id: deliveryId('call-123456789', 'success') },
    });
    expect(publisher.messages).toHaveLength(0);
    expect((await postSigned(served.url, seedBody(), { secret: 'wrong' })).status).toBe(401);
    await start();
  });

  it('stores a body above the claim-check threshold and publishes a reference', async () => {
    await start({ CLAIM_CHECK_THRESHOLD_BYTES: '2048' });
    const payload = fixture('seed-success');
    payload.result.structure_file_base64 = Buffer.alloc(6000, 'A').toString('base64');
    const body = JSON.stringify(payload);
    const res = await postSigned(served.url, body, { secret: SECRET });
    expect(res.status).toBe(202);
    const message = publisher.messages.at(-1)!;
    expect(message.data.length).toBeLessThan(500);
    expect(message.attributes.claim_uri).toMatch(/^file:\/\/.*claims\/dlv_[0-9a-f]{32}\/[0-9a-f]{64}\.json$/);
    const stored = await createLocalBlobStore(dir).get(message.attributes.claim_uri!);
    expect(stored?.toString()).toBe(body);
    await start();
  });

  it.each(['/health', '/api/v3/webhooks/modal/health'])(
    'answers the seed health JSON on %s and nothing an attacker could use',
    async (path) => {
      const res = await fetch(served.url + path);
      const json = await res.json();
      expect(res.status).toBe(200);
      expect(json).toEqual({
        status: 'healthy',
        service: 'modal_webhook_handler',
        features: {
          hmac_verification: true,
          timestamp_verification: true,
          background_processing: true,
          batch_intelligence: true,
        },
      });
      expect(JSON.stringify(json)).not.toMatch(/completions|topic|version|tolerance|rotation|previous/);
    },
  );

  it.each([
    ['GET', '/api/v3/webhooks/modal/completion', 405, 'POST'],
    ['PUT', '/', 405, 'POST'],
    ['POST', '/health', 405, 'GET, HEAD'],
    ['GET', '/nope', 404, undefined],
  ])('answers %s %s with %i', async (method, path, status, allow) => {
    const res = await fetch(served.url + path, { method });
    expect(res.status).toBe(status);
    expect(res.headers.get('allow') ?? undefined).toBe(allow);
    expect(((await res.json()) as { error: string }).error).toBe(status === 405 ? 'method_not_allowed' : 'not_found');
  });

  it('refuses a charset other than UTF-8 with 415 before anything is published', async () => {
    const before = publisher.messages.length;
    const body = seedBody().replace('"success"', '"+AHM-uccess"');
    const res = await postSigned(served.url, body, {
      secret: SECRET,
      headers: { 'content-type': 'application/json; charset=utf-7' },
    });
    expect(res.status).toBe(415);
    expect(res.json).toMatchObject({ error: 'unsupported_media_type', message: expect.stringContaining('utf-7') });
    expect(publisher.messages.length).toBe(before);
  });

  it('decodes the bytes as the worker will: a BOM-prefixed body is accepted and decodes there too', async () => {
    const res = await postSigned(served.url, '\ufeff' + seedBody(), { secret: SECRET });
    expect(res.status).toBe(202);
    expect(decodeCompletionBody(publisher.messages.at(-1)!.data).ok).toBe(true);
  });

  it('answers 422 for an id that could not be stored, before any 202', async () => {
    const before = publisher.messages.length;
    const body = JSON.stringify({ ...fixture('seed-success'), metadata: { job_id: 'j'.repeat(256) } });
    const res = await postSigned(served.url, body, { secret: SECRET });
    expect(res.status).toBe(422);
    expect(res.json.issues[0].path).toBe('metadata.job_id');
    expect(publisher.messages.length).toBe(before);
  });

  it('refuses a body over MAX_BODY_BYTES with 413', async () => {
    await start({ MAX_BODY_BYTES: '2048' });
    const body = JSON.stringify({ ...fixture('seed-success'), error: 'x'.repeat(4096) });
    const res = await postSigned(served.url, body, { secret: SECRET });
    expect(res.status).toBe(413);
    expect(res.json.error).toBe('payload_too_large');
    await start();
  });

  it('answers 503 within the publish deadline when Pub/Sub does not answer', async () => {
    await served.close();
    const config = loadWebhookConfig({ MODAL_WEBHOOK_SECRET: SECRET, RESULTS_DIR: dir, PUBLISH_TIMEOUT_MS: '300' });
    const hanging: Publisher = { topic: 't', publish: () => new Promise<string>(() => undefined) };
    served = await serveWebhook({
      config,
      publisher: hanging,
      claims: createLocalBlobStore(dir),
      clock: () => new Date(),
      logger,
      version: 'test',
    });
    const started = Date.now();
    const res = await postSigned(served.url, seedBody(), { secret: SECRET });
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('publish_failed');
    expect(Date.now() - started).toBeLessThan(3000);
    await start();
  });

  it('says "timestamp outside the window" for a stale timestamp', async () => {
    const res = await postSigned(served.url, seedBody(), {
      secret: SECRET,
      timestamp: Math.floor(Date.now() / 1000) - 600,
    });
    expect(res.json).toEqual({
      error: 'stale_timestamp',
      message: expect.stringContaining('timestamp outside the 300 s window'),
    });
  });

  it('accepts Standard Webhooks requests and carries the scheme to the worker; SIGNATURE_SCHEMES=standard refuses the seed scheme', async () => {
    const body = seedBody();
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_unit_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signStandard(SECRET, 'msg_unit_1', ts, body),
      'x-modal-signature': '',
      'x-modal-timestamp': '',
    };
    const standardHeaders = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('webhook-')));
    const post = (h: Record<string, string>) =>
      fetch(`${served.url}/api/v3/webhooks/modal/completion`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...h },
        body,
      });
    const res = await post(standardHeaders);
    expect(res.status).toBe(202);
    expect(publisher.messages.at(-1)!.attributes).toMatchObject({ signature_scheme: 'standard', secret_index: '0' });
    await start({ SIGNATURE_SCHEMES: 'standard' });
    expect((await post(standardHeaders)).status).toBe(202);
    const seed = await postSigned(served.url, body, { secret: SECRET });
    expect(seed).toMatchObject({ status: 401, json: { error: 'scheme_not_allowed' } });
    await start();
  });

  it('publishes five concurrent copies of one signed delivery once: every copy gets the same message id', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Publisher & { calls: number } = {
      topic: 'modal-completions',
      calls: 0,
      async publish() {
        this.calls++;
        await gate;
        return 'm-once';
      },
    };
    await start({}, false, { publisher: slow });
    const body = JSON.stringify({ ...fixture('seed-success'), copy: 'concurrent' });
    const ts = Math.floor(Date.now() / 1000);
    const copies = Promise.all(
      [0, 1, 2, 3, 4].map((i) => postSigned(served.url, body, { secret: SECRET, timestamp: ts + i })),
    );
    await new Promise((r) => setTimeout(r, 200));
    release();
    const answers = await copies;
    expect(answers.map((a) => [a.status, a.json.message_id])).toEqual([0, 1, 2, 3, 4].map(() => [202, 'm-once']));
    expect(slow.calls).toBe(1);
    expect(logger.lines.filter((l) => l.event === 'webhookReplayed')).toHaveLength(4);
    await start();
  });

  it('refuses every completion with 500 and an ERROR line when the body guard did not run', async () => {
    await start({}, false, { bodies: { passed: () => false, holdUntil: () => undefined } });
    const res = await postSigned(served.url, seedBody(), { secret: SECRET });
    expect(res).toMatchObject({ status: 500, json: { error: 'body_guard_missing' } });
    expect(publisher.messages).toHaveLength(0);
    expect(logger.lines.at(-1)).toMatchObject({
      severity: 'ERROR',
      event: 'requestFailed',
      code: 'body_guard_missing',
      cause: expect.stringMatching(/without passing its body guard/),
    });
    // Health needs no body and still answers.
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    await start();
  });

  it('keeps caller-chosen text short in answers and logs: an 8 KB path, a long user agent', async () => {
    const long = '/x'.repeat(4096);
    const res = await fetch(served.url + long, { method: 'POST', headers: { 'user-agent': 'u'.repeat(4000) } });
    expect(res.status).toBe(404);
    const answer = (await res.json()) as { message: string };
    expect(answer.message.length).toBeLessThan(240);
    const line = logger.lines.at(-1)!;
    expect(JSON.stringify(line).length).toBeLessThan(1024);
    const forged = await postSigned(served.url, seedBody(), {
      secret: SECRET,
      signature: `sha256=${'0'.repeat(64)}`,
      headers: { 'user-agent': 'u'.repeat(4000) },
    });
    expect(forged.status).toBe(401);
    expect(JSON.stringify(logger.lines.at(-1)).length).toBeLessThan(1024);
  });

  it('tags only verified requests with the caller trace: an unsigned rejection carries no trace field', async () => {
    const trace = 'abcdef0123456789abcdef0123456789';
    const headers = { 'x-cloud-trace-context': `${trace}/1;o=1` };
    await postSigned(served.url, seedBody(), { secret: SECRET, signature: `sha256=${'0'.repeat(64)}`, headers });
    const rejected = logger.lines.at(-1)!;
    expect(rejected).toMatchObject({ event: 'signatureRejected' });
    expect(Object.keys(rejected).filter((k) => k.includes('trace'))).toEqual([]);
    const accepted = await postSigned(served.url, JSON.stringify({ ...fixture('seed-success'), traced: true }), {
      secret: SECRET,
      headers,
    });
    expect(accepted.status).toBe(202);
    expect(
      logger.lines.find((l) => l.event === 'webhookAccepted' && l.message_id === accepted.json.message_id),
    ).toMatchObject({ 'logging.googleapis.com/trace': expect.stringContaining(trace) });
  });
});
