/**
 * A Pub/Sub push body read without holding its message's data three times. A push body is
 * `{"message":{"data":"<base64>","attributes":…,"messageId":…},"subscription":…}`; parsed whole,
 * a 4.9 MiB completion exists at once as the body's bytes, its text, and the data string (6.5 MB
 * each), and 16 of them arrive together. Here, when `message.data` is one plain base64 string, it is
 * decoded straight from the bytes and the rest of the body is parsed without it, `data` replaced by
 * DECODED_DATA: the decoded bytes travel beside the parsed body.
 *
 * `readPushBody(body)` gives, for every body, what `JSON.parse` and `Buffer.from(data, 'base64')`
 * give: the same parsed body (but for that one string) and the same bytes, or `undefined` when the
 * body is not JSON (a property test holds them together). Pure.
 */
import { base64RunEnd, decodeBase64, stringAfterOnlyKey } from './json-bytes';

/** What stands for `message.data` in a body whose data was decoded here (not base64: it cannot be mistaken for data). */
export const DECODED_DATA = '(decoded by the push reader)';

const KEY = Buffer.from('"data"');
/** Below this, parsing the whole body costs nothing worth a second path. */
const FAST_PATH_MIN_BYTES = 64 * 1024;

export type PushBody = { value: unknown; data?: Buffer } | undefined;

function parse(body: Buffer): PushBody {
  try {
    return { value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
}

/** [start, end) of the string after the only `"data"` key, when it is long, plain base64 with its padding. */
function dataSpan(body: Buffer): { start: number; end: number } | undefined {
  const start = stringAfterOnlyKey(body, KEY);
  if (start === undefined) return undefined;
  let end = base64RunEnd(body, start, body.length);
  if (end - start < FAST_PATH_MIN_BYTES) return undefined;
  for (let pad = 0; pad < 2 && body[end] === 0x3d /* = */; pad++) end++;
  return body[end] === 0x22 ? { start, end } : undefined;
}

type Pushed = { message?: { data?: unknown } };

export function readPushBody(body: Buffer): PushBody {
  const span = dataSpan(body);
  if (!span) return parse(body);
  const rest = Buffer.concat([body.subarray(0, span.start), Buffer.from(DECODED_DATA), body.subarray(span.end)]);
  const parsed = parse(rest);
  // The replaced string was the message's data (and not, say, an attribute called "data"): keep it.
  const message = (parsed?.value as Pushed | null | undefined)?.message;
  if (!parsed || typeof message !== 'object' || message === null || message.data !== DECODED_DATA) return parse(body);
  return { value: parsed.value, data: decodeBase64(body, span.start, span.end) };
}
