/**
 * readPushBody: for every body, what JSON.parse and a base64 decode of `message.data` give — the
 * same parsed body (but for that one string, DECODED_DATA) and the same bytes — and the fast path
 * taken only for a large, plain base64 `message.data`.
 */
import fc from 'fast-check';
import { DECODED_DATA, readPushBody } from '../../../../shared/contract/push-body';

const BIG = 70 * 1024;
const b64 = (n: number, fill = 7) => Buffer.alloc(Math.ceil((n * 3) / 4), fill).toString('base64');

/** What the framework and the worker would make of `text`: the parsed body and the data's bytes. */
function reference(text: string): { value: unknown; bytes?: Buffer } | undefined {
  try {
    const value = JSON.parse(text) as { message?: { data?: unknown } };
    const data = value?.message?.data;
    return { value, ...(typeof data === 'string' ? { bytes: Buffer.from(data, 'base64') } : {}) };
  } catch {
    return undefined;
  }
}

function expectSame(text: string): void {
  const expected = reference(text);
  const got = readPushBody(Buffer.from(text));
  if (!expected) {
    expect(got).toBeUndefined();
    return;
  }
  expect(got).toBeDefined();
  if (got!.data) {
    const value = got!.value as { message: { data: string } };
    expect(value.message.data).toBe(DECODED_DATA);
    expect(got!.data.equals(expected.bytes!)).toBe(true);
    const original = expected.value as { message: { data: string } };
    expect({ ...value, message: { ...value.message, data: original.message.data } }).toEqual(original);
  } else {
    expect(got!.value).toEqual(expected.value);
  }
}

const push = (data: string, extra = '') =>
  `{"message":{"data":${data},"attributes":{"kind":"completion"${extra}},"messageId":"1"},"subscription":"s"}`;

it.each([
  ['a large plain data string', push(`"${b64(BIG)}"`)],
  ['with padding', push(`"${b64(BIG)}A=="`)],
  ['a small one (full parse)', push('"QUFB"')],
  ['an escaped slash inside', push(`"${b64(BIG)}\\/AA"`)],
  ['a character outside base64', push(`"${b64(BIG)}!"`)],
  ['an attribute called data', push(`"${b64(BIG)}"`, ',"data":"x"')],
  ['data only in an attribute', `{"message":{"attributes":{"data":"${b64(BIG)}"},"messageId":"1"}}`],
  ['data not in message', `{"data":"${b64(BIG)}","message":{"messageId":"1"}}`],
  ['message twice (last wins)', `{"message":{"data":"${b64(BIG)}"},"message":{"messageId":"2"}}`],
  ['broken JSON after the data', push(`"${b64(BIG)}"`).slice(0, -4)],
  ['not JSON at all', 'hello'],
  ['the stand-in itself as data', push(`"${DECODED_DATA}"`)],
])('%s: what JSON.parse and a base64 decode give', (_name, text) => expectSame(text));

it('takes the fast path for a large plain data string, and gives its bytes', () => {
  const bytes = Buffer.from(Array.from({ length: 60_000 }, (_, i) => (i * 31) % 256));
  const got = readPushBody(Buffer.from(push(`"${bytes.toString('base64')}"`)));
  expect(got?.data?.equals(bytes)).toBe(true);
});

it('gives what JSON.parse and a base64 decode give for any body around a large data string (property)', () => {
  const piece = fc.constantFrom('A', '/', '+', '=', '-', '_', ' ', '!', '\\n', '\\"', '"', '}', ',', 'é', '\n');
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 5 }),
      fc.array(piece, { maxLength: 5 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc.boolean(),
      (before, after, other, inAttributes) => {
        const data = `"${before.join('')}${b64(BIG, 200)}${after.join('')}"`;
        const text = inAttributes
          ? `{"message":{"attributes":{"data":${data}},"x":${other}},"subscription":"s"}`
          : push(data, `,"x":${JSON.stringify(other)}`);
        expectSame(text);
      },
    ),
    { numRuns: 300 },
  );
});
