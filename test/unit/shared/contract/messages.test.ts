/** The one decoding of a completion body and the message envelope, shared by webhook and worker. */
import { deliveryId } from '../../../../shared/contract/delivery';
import {
  decodeCompletionBody,
  decodeCompletionEnvelope,
  encodeCompletion,
  encodeOwnCompletion,
  jsonDepth,
  MAX_JSON_DEPTH,
  unsupportedCharset,
} from '../../../../shared/contract/messages';

const ok = {
  call_id: 'c-1',
  status: 'success',
  result: { affinity: 0.5 },
  metadata: { job_id: 'j-1', batch_id: 'b-1' },
};
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('decodeCompletionBody', () => {
  it.each([
    ['plain UTF-8 JSON', bytes(ok), 'ok'],
    [
      'a UTF-8 BOM before the JSON (ignored, as RFC 8259 allows)',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(ok)]),
      'ok',
    ],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from('{"call_id":"c'), Buffer.from([0xff]), Buffer.from('"}')]),
      'invalid_json',
    ],
    ['not JSON', Buffer.from('{nope'), 'invalid_json'],
    ['a UTF-7 status', Buffer.from(JSON.stringify(ok).replace('"success"', '"+AHM-uccess"')), 'invalid_payload'],
    ['a job id longer than 128', bytes({ ...ok, metadata: { job_id: 'j'.repeat(129) } }), 'invalid_payload'],
    [
      'a job id with a colon (not a Windows file name)',
      bytes({ ...ok, metadata: { job_id: 'a:b' } }),
      'invalid_payload',
    ],
    ['a job id that is a device name', bytes({ ...ok, metadata: { job_id: 'NUL' } }), 'invalid_payload'],
    ['a call id ending with a dot', bytes({ ...ok, call_id: 'c.' }), 'invalid_payload'],
    [
      'nesting deeper than the limit',
      Buffer.from(
        `{"call_id":"c","status":"success","metadata":{"job_id":"j"},"result":{"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}}`,
      ),
      'invalid_payload',
    ],
    [
      'a 10,000-deep object',
      Buffer.from(
        `{"call_id":"c","status":"success","metadata":{"job_id":"j"},"result":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      ),
      'invalid_payload',
    ],
  ])('%s → %s', (_name, body, expected) => {
    const verdict = decodeCompletionBody(body);
    expect(verdict.ok ? 'ok' : verdict.code).toBe(expected);
  });

  it('accepts what Firestore cannot hold as a field (nested arrays, odd keys): the worker keeps it in the file', () => {
    const verdict = decodeCompletionBody(
      bytes({ ...ok, result: { affinity: 0.7, pose: [[1, 2, 3]], '': 1, __x__: 2 } }),
    );
    expect(verdict.ok).toBe(true);
  });
});

it('measures depth without recursion', () => {
  expect(jsonDepth(1)).toBe(0);
  expect(jsonDepth({ a: [1, { b: 2 }] })).toBe(3);
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  expect(jsonDepth(deep, 50)).toBeGreaterThan(50);
});

it.each([
  [undefined, undefined],
  ['application/json', undefined],
  ['application/json; charset=utf-8', undefined],
  ['application/json; charset="UTF-8"', undefined],
  ['application/json;charset=utf8', undefined],
  ['application/json; charset=utf-7', 'utf-7'],
  ['application/json; charset=iso-8859-1', 'iso-8859-1'],
  ['application/json; charset=utf-16le', 'utf-16le'],
])('charset of %s: unsupported = %s', (contentType, expected) => {
  expect(unsupportedCharset(contentType)).toBe(expected);
});

describe('completion envelope', () => {
  const receivedAt = new Date('2026-11-28T12:00:00.000Z');
  const payload = decodeCompletionBody(bytes(ok));
  if (!payload.ok) throw new Error('fixture');

  it('round-trips what the webhook writes', () => {
    const id = deliveryId('c-1', 'success');
    const message = encodeCompletion(bytes(ok), payload.payload, {
      deliveryId: id,
      receivedAt,
      source: 'webhook',
      secretIndex: 1,
    });
    expect(message.attributes).toMatchObject({
      kind: 'completion',
      delivery_id: id,
      job_id: 'j-1',
      batch_id: 'b-1',
      source: 'webhook',
      secret_index: '1',
    });
    expect(decodeCompletionEnvelope(message.attributes)).toEqual({
      ok: true,
      meta: { deliveryId: id, receivedAt, source: 'webhook', secretIndex: 1 },
    });
  });

  it('carries a claim-checked body as a uri, with non-empty data (push needs it)', () => {
    const message = encodeCompletion(bytes(ok), payload.payload, {
      deliveryId: deliveryId('c-1', 'success'),
      receivedAt,
      source: 'webhook',
      claimUri: 'gs://b/claims/x.json',
    });
    expect(message.data.length).toBeGreaterThan(0);
    expect(message.data.length).toBeLessThan(10);
    expect(decodeCompletionEnvelope(message.attributes)).toMatchObject({
      ok: true,
      meta: { claimUri: 'gs://b/claims/x.json' },
    });
  });

  it('builds a poll completion the same way', () => {
    const message = encodeOwnCompletion(payload.payload, 'poll', receivedAt);
    expect(message.attributes).toMatchObject({ source: 'poll', delivery_id: deliveryId('c-1', 'success') });
    expect(decodeCompletionBody(message.data).ok).toBe(true);
  });

  it.each([
    ['no source', { source: undefined }],
    ['an unknown source', { source: 'guess' }],
    ['a received_at that is not a date', { received_at: 'yesterday' }],
    ['a delivery id of another form', { delivery_id: 'anything' }],
    ['another schema version', { schema_version: '2' }],
  ])('refuses %s instead of defaulting', (_name, change) => {
    const { attributes } = encodeOwnCompletion(payload.payload, 'poll', receivedAt);
    const changed = Object.fromEntries(
      Object.entries({ ...attributes, ...change }).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    expect(decodeCompletionEnvelope(changed).ok).toBe(false);
  });
});
