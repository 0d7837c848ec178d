/**
 * The push reader in front of the real Functions Framework: a large push reaches the handler as a
 * CloudEvent whose message data is the stand-in, with the decoded bytes beside it; a small one as
 * the framework always made it; a body that is not JSON is refused with 400 and a log line.
 */
import { createPushReader } from '../../../../functions/worker/push-reader';
import type { PubSubEventData } from '../../../../functions/worker/types';
import { DECODED_DATA } from '../../../../shared/contract/push-body';
import { memoryLogger } from '../../../../shared/observability/log';
import { hookNextServer } from '../../../../shared/platform/server-hook';
import { serveCloudEvent, type Served } from '../../../support/http';

describe('push reader', () => {
  const logger = memoryLogger();
  const reader = createPushReader(logger);
  const seen: Array<{ data?: string; bytes?: Buffer; attributes?: Record<string, string> }> = [];
  let served: Served;

  beforeAll(async () => {
    hookNextServer({ guard: reader.guard });
    served = await serveCloudEvent(async (event: { data?: PubSubEventData }) => {
      await new Promise((r) => setImmediate(r)); // the bytes are there after an await too
      const message = event.data?.message;
      seen.push({ data: message?.data, bytes: reader.pushedData(), attributes: message?.attributes });
    });
  });
  afterAll(() => served.close());

  const push = (data: Buffer) =>
    fetch(served.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        message: { data: data.toString('base64'), attributes: { kind: 'completion' }, messageId: `m-${seen.length}` },
        subscription: 'projects/p/subscriptions/s',
      }),
    });

  it('hands a large message over decoded, beside a stand-in for its data', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const res = await push(data);
    expect(res.status).toBeLessThan(300);
    const got = seen.at(-1)!;
    expect(got.data).toBe(DECODED_DATA);
    expect(got.bytes?.equals(data)).toBe(true);
    expect(got.attributes).toEqual({ kind: 'completion' });
  });

  it('leaves a small message as the framework makes it', async () => {
    const res = await push(Buffer.from('{"small":true}'));
    expect(res.status).toBeLessThan(300);
    const got = seen.at(-1)!;
    expect(Buffer.from(got.data!, 'base64').toString()).toBe('{"small":true}');
    expect(got.bytes).toBeUndefined();
  });

  it('refuses a body that is not JSON with 400 and a requestRejected line, without calling the handler', async () => {
    const before = seen.length;
    const res = await fetch(served.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"message":',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_json' });
    expect(seen.length).toBe(before);
    expect(logger.lines.at(-1)).toMatchObject({ event: 'requestRejected', code: 'invalid_json', status: 400 });
  });
});
