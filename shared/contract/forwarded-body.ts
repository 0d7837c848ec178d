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
 * that forward the raw body may use it (the webhook). Pure.
 */
import { decodeCompletionBody, type BodyVerdict } from './messages';

const KEY = Buffer.from('"structure_file_base64"');
/** Below this, the full parse is cheap: not worth a second path. */
const FAST_PATH_MIN_BYTES = 64 * 1024;

const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
/** Bytes of the schema's base64 body (`[A-Za-z0-9+/_-]`; CR and LF would be raw control characters, invalid in JSON). */
const BASE64_BYTE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-') BASE64_BYTE[c.charCodeAt(0)] = 1;
/** The same rule for two bytes at once, indexed by their 16-bit value (either byte order: the rule is per byte). */
const BASE64_PAIR = new Uint8Array(65536);
for (let pair = 0; pair < 65536; pair++) BASE64_PAIR[pair] = BASE64_BYTE[pair & 0xff]! & BASE64_BYTE[pair >>> 8]!;

/**
 * Where the run of base64 bytes that starts at `start` ends (the first other byte, or `end`). The
 * megabyte of a structure file is read four bytes at a time through the two-byte table: 0.25–0.35 ms
 * for 1.3 MB here, against 0.9–2.2 for a byte at a time (`npm run bench` measures it in place).
 */
export function base64RunEnd(body: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && (body.byteOffset + i) % 4 !== 0 && BASE64_BYTE[body[i]!] === 1) i++;
  if (i < end && (body.byteOffset + i) % 4 === 0) {
    const words = new Uint32Array(body.buffer, body.byteOffset + i, (end - i) >>> 2);
    let k = 0;
    while (k < words.length) {
      const word = words[k]!;
      if ((BASE64_PAIR[word & 0xffff]! & BASE64_PAIR[word >>> 16]!) !== 1) break;
      k++;
    }
    i += 4 * k;
  }
  while (i < end && BASE64_BYTE[body[i]!] === 1) i++;
  return i;
}

/**
 * Where the structure's string content lies in `body` ([start, end), between its quotes), when
 * the key occurs exactly once, as a key followed by a plain string: no escape in it, so that its
 * bytes are its characters. Anything else takes the full parse.
 */
function structureSpan(body: Buffer): { start: number; end: number } | undefined {
  const at = body.indexOf(KEY);
  if (at < 0 || body.indexOf(KEY, at + 1) >= 0) return undefined;
  let i = at + KEY.length;
  while (JSON_WHITESPACE.has(body[i]!)) i++;
  if (body[i] !== 0x3a /* : */) return undefined;
  i++;
  while (JSON_WHITESPACE.has(body[i]!)) i++;
  if (body[i] !== 0x22 /* " */) return undefined;
  const start = i + 1;
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

export function decodeForwardedBody(body: Buffer): BodyVerdict {
  const span = structureSpan(body);
  if (!span || !isBase64Span(body, span.start, span.end)) return decodeCompletionBody(body);
  const verdict = decodeCompletionBody(Buffer.concat([body.subarray(0, span.start), body.subarray(span.end)]));
  // The blanked string was the structure itself, and everything else holds: the same verdict as the
  // full parse. A refusal, or a blanked string that was something else, gets the full parse's own words.
  if (verdict.ok && verdict.payload.result?.structure_file_base64 === '') return verdict;
  return decodeCompletionBody(body);
}
