/**
 * The webhook's verdict on a completion body without decoding its structure file. A Boltz-2
 * completion is mostly `result.structure_file_base64` (a megabyte or more); the webhook forwards the
 * body's bytes as they came and needs of the structure only the answer to "is it base64?". Decoding
 * it to a string and parsing it as JSON costs ~10 ms per 1.3 MB — most of an acknowledgement — so
 * when the structure is one plain JSON string, its bytes are checked against the schema's base64
 * rule in place and the rest of the body is parsed without it.
 *
 * `decodeForwardedBody(body)` gives the verdict `decodeCompletionBody(body)` gives, for every
 * body (a property test holds them together); its payload differs only in the one string it left
 * out, '' instead ( `result.structure_file_base64`, in any body a sender writes). Only callers
 * that forward the raw body may use it (the webhook); `decodeWithStructure` gives the structure's
 * bytes beside the payload (the worker). Pure.
 */
import { base64RunEnd, decodeBase64, stringAfterOnlyKey } from './json-bytes';
import { decodeCompletionBody, type BodyVerdict } from './messages';

const KEY = Buffer.from('"structure_file_base64"');
/** Below this, the full parse is cheap: not worth a second path. */
const FAST_PATH_MIN_BYTES = 64 * 1024;

/**
 * Where the structure's string content lies in `body` ([start, end), between its quotes), when
 * the key occurs exactly once, as a key followed by a plain string: no escape in it, so that its
 * bytes are its characters. Anything else takes the full parse.
 */
function structureSpan(body: Buffer): { start: number; end: number } | undefined {
  const start = stringAfterOnlyKey(body, KEY);
  if (start === undefined) return undefined;
  const end = body.indexOf(0x22, start);
  if (end < 0 || end - start < FAST_PATH_MIN_BYTES) return undefined;
  if (body.subarray(start, end).indexOf(0x5c /* \ */) >= 0) return undefined;
  return { start, end };
}

/** The schema's rule, /^[A-Za-z0-9+/_\r\n-]*={0,2}\s*$/, on bytes that are their own characters. */
function isBase64Span(body: Buffer, start: number, end: number): boolean {
  let i = base64RunEnd(body, start, end);
  for (let pad = 0; pad < 2 && i < end && body[i] === 0x3d /* = */; pad++) i++;
  while (i < end && body[i] === 0x20) i++;
  return i === end;
}

/** The verdict, and where the structure lay when it was left out of the parse. */
function forwarded(body: Buffer): { verdict: BodyVerdict; span?: { start: number; end: number } } {
  const span = structureSpan(body);
  if (!span || !isBase64Span(body, span.start, span.end)) return { verdict: decodeCompletionBody(body) };
  const verdict = decodeCompletionBody(Buffer.concat([body.subarray(0, span.start), body.subarray(span.end)]));
  // The blanked string was the structure itself, and everything else holds: the same verdict as the
  // full parse. A refusal, or a blanked string that was something else, gets the full parse's own words.
  if (verdict.ok && verdict.payload.result?.structure_file_base64 === '') return { verdict, span };
  return { verdict: decodeCompletionBody(body) };
}

export function decodeForwardedBody(body: Buffer): BodyVerdict {
  return forwarded(body).verdict;
}

/**
 * The same verdict, and the structure file's bytes when it was left out of the payload (its
 * `structure_file_base64` is then ''): decoded straight from the body, never held as a string. The
 * worker's reading of a large completion. `structure` is what `Buffer.from(structure_file_base64,
 * 'base64')` of the full parse gives (a property test holds them together).
 */
export function decodeWithStructure(body: Buffer): { verdict: BodyVerdict; structure?: Buffer } {
  const { verdict, span } = forwarded(body);
  return span ? { verdict, structure: decodeBase64(body, span.start, span.end) } : { verdict };
}
