/**
 * Reading a request body ourselves, with hard limits, before anything parses it. The Functions
 * Framework would otherwise inflate (gzip, br, deflate, zstd) and parse every body up to 1 GiB before
 * the function runs (docs/framework-seam.md). The rules here make an unauthenticated request cheap:
 * - a `Content-Encoding` other than identity is refused (415) without reading a byte;
 * - a `Content-Length` over the maximum is refused (413) without reading a byte;
 * - a body is read into one buffer of its declared size (no copies), and a stream that grows past
 *   the maximum, or past what it declared, is cut (413); a chunked body is copied into growing
 *   blocks, so the memory it holds is its bytes whatever its chunking, and one that arrives in
 *   absurdly small chunks is refused (400);
 * - all bodies being read at once share a budget of bytes: a body too large for what is left is
 *   answered 503 with `Retry-After` (the sender retries), while small bodies are always admitted, so
 *   a flood of large unsigned bodies can neither exhaust memory nor crowd out ordinary completions;
 * - a body not received within the read timeout is refused (408).
 * Pure except for the stream it is handed.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface BodyLimits {
  /** Largest body accepted (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Bytes all bodies being read at once may hold together (BODY_BUFFER_POOL_BYTES). */
  poolBytes: number;
  /** Bodies up to this size are admitted whatever the pool holds. */
  smallBodyBytes: number;
  /** A body still arriving after this long is refused (BODY_READ_TIMEOUT_MS). */
  readTimeoutMs: number;
}

export type BodyRefusalCode =
  'unsupported_encoding' | 'payload_too_large' | 'overloaded' | 'request_timeout' | 'invalid_body';

export interface BodyRefusal {
  code: BodyRefusalCode;
  status: 400 | 408 | 413 | 415 | 503;
  message: string;
}

const refusal = (code: BodyRefusalCode, status: BodyRefusal['status'], message: string): BodyRefusal => ({
  code,
  status,
  message,
});

/** Whether a request carries a body at all (the rule of `type-is`'s hasBody). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return (
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  );
}

/** The declared length, `undefined` when none (chunked), `NaN` when it is not a number. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  if (value === undefined) return undefined;
  return /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

/** What the headers alone decide: a refusal, or nothing (read the body). */
export function checkBodyHeaders(
  headers: IncomingHttpHeaders,
  limits: Pick<BodyLimits, 'maxBodyBytes'>,
): BodyRefusal | undefined {
  const encoding = String(headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    return refusal(
      'unsupported_encoding',
      415,
      `Content-Encoding ${encoding.slice(0, 32)} is not accepted; send the body uncompressed`,
    );
  }
  const length = declaredLength(headers);
  if (Number.isNaN(length)) return refusal('invalid_body', 400, 'Content-Length is not a number');
  if (length !== undefined && length > limits.maxBodyBytes) {
    return refusal('payload_too_large', 413, `body is larger than ${limits.maxBodyBytes} bytes`);
  }
  return undefined;
}

/** The bytes every body being read holds together. Small bodies always get in; others while the pool has room. */
export function createBodyBudget(limits: Pick<BodyLimits, 'poolBytes' | 'smallBodyBytes'>) {
  let held = 0;
  return {
    /** Takes `bytes` more for a body that already holds `current`; false when the pool cannot give them. */
    take(current: number, bytes: number): boolean {
      const after = current + bytes;
      if (after > limits.smallBodyBytes && held + bytes > limits.poolBytes) return false;
      held += bytes;
      return true;
    },
    give(bytes: number): void {
      held = Math.max(0, held - bytes);
    },
    get held(): number {
      return held;
    },
  };
}

export type BodyBudget = ReturnType<typeof createBodyBudget>;

export type BodyRead =
  { ok: true; body: Buffer; release: () => void } | { ok: false; refusal: BodyRefusal; release: () => void };

/**
 * A chunked body is copied into blocks as it arrives, never kept as the parser's chunks: each chunk
 * is a Buffer object of its own (a view of the socket's read), ~400 bytes of bookkeeping whatever its
 * data, so 150,000 one-byte chunks held as chunks cost ~60 MiB for 150 KB of body. Blocks grow from
 * 16 KiB to 1 MiB, so the bytes held stay within twice the body (plus 16 KiB) and are what the
 * pool is charged.
 */
const FIRST_BLOCK_BYTES = 16 * 1024;
const LARGEST_BLOCK_BYTES = 1024 * 1024;

/**
 * A stream of absurdly small chunks is refused: after this many 'data' events, a body must average
 * at least MIN_MEAN_CHUNK_BYTES a chunk. Ordinary senders write kilobytes at a time (and a chunk
 * split across two socket reads is still hundreds of bytes); parsing one-byte chunks costs the
 * instance CPU for every byte.
 */
export const CHUNK_COUNT_FLOOR = 4096;
export const MIN_MEAN_CHUNK_BYTES = 64;

const overloaded = () => refusal('overloaded', 503, 'too many large bodies in flight; retry later');
const discard = () => undefined;

/** Where a body's bytes go while it is read: one buffer of its declared size, or growing blocks. */
interface BodySink {
  /** Copies `chunk` in; a refusal when it does not fit. */
  add(chunk: Buffer): BodyRefusal | undefined;
  /** The whole body, once the stream ended; a refusal when it is short of what was declared. */
  finish(): { ok: true; body: Buffer } | { ok: false; refusal: BodyRefusal };
  /** Forgets every byte held. */
  drop(): void;
}

function declaredSink(declared: number): BodySink {
  let whole: Buffer | undefined = Buffer.allocUnsafe(declared);
  let received = 0;
  return {
    add(chunk) {
      if (!whole || received + chunk.length > whole.length)
        return refusal('invalid_body', 400, 'body is longer than its Content-Length');
      chunk.copy(whole, received);
      received += chunk.length;
      return undefined;
    },
    finish() {
      if (!whole || received !== whole.length)
        return { ok: false, refusal: refusal('invalid_body', 400, 'body is shorter than its Content-Length') };
      // Handed over: the sink no longer holds it (its caller decides how long the body lives).
      const body = whole;
      whole = undefined;
      return { ok: true, body };
    },
    drop() {
      whole = undefined;
    },
  };
}

/** Blocks for a chunked body; each new block's bytes are taken from `take` first. */
function chunkedSink(maxBodyBytes: number, take: (current: number, bytes: number) => boolean): BodySink {
  let blocks: Buffer[] = [];
  let capacity = 0;
  let filled = 0; // bytes in the last block
  let received = 0;
  let events = 0;
  return {
    add(chunk) {
      events++;
      if (events > CHUNK_COUNT_FLOOR && (received + chunk.length) / events < MIN_MEAN_CHUNK_BYTES) {
        return refusal(
          'invalid_body',
          400,
          `body arrives in too many small chunks (${events} for ${received + chunk.length} bytes); send larger writes or a Content-Length`,
        );
      }
      let offset = 0;
      while (offset < chunk.length) {
        let last = blocks.at(-1);
        if (!last || filled === last.length) {
          const size = Math.min(LARGEST_BLOCK_BYTES, Math.max(FIRST_BLOCK_BYTES, capacity), maxBodyBytes - capacity);
          if (!take(capacity, size)) return overloaded();
          last = Buffer.allocUnsafe(size);
          blocks.push(last);
          capacity += size;
          filled = 0;
        }
        const copied = chunk.copy(last, filled, offset);
        filled += copied;
        offset += copied;
      }
      received += chunk.length;
      return undefined;
    },
    finish() {
      const body = blocks.length === 1 ? blocks[0]!.subarray(0, received) : Buffer.concat(blocks, received);
      blocks = [];
      return { ok: true, body };
    },
    drop() {
      blocks = [];
    },
  };
}

/**
 * Reads `stream` into one buffer under `limits`, taking its bytes from `budget`. Whatever the
 * outcome, `release()` gives the bytes back (call it once the body is no longer needed). A refusal
 * forgets what was read and drops whatever still arrives; the caller answers it and then drains the
 * rest or closes the connection.
 */
export function readBody(
  stream: Readable,
  headers: IncomingHttpHeaders,
  limits: BodyLimits,
  budget: BodyBudget,
): Promise<BodyRead> {
  const declared = declaredLength(headers);
  let taken = 0;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    budget.give(taken);
  };
  if (declared !== undefined) {
    if (!budget.take(0, declared)) return Promise.resolve({ ok: false, refusal: overloaded(), release });
    taken = declared;
  }
  const sink =
    declared !== undefined
      ? declaredSink(declared)
      : chunkedSink(limits.maxBodyBytes, (current, bytes) => {
          if (!budget.take(current, bytes)) return false;
          taken += bytes;
          return true;
        });
  return new Promise<BodyRead>((resolve) => {
    let settled = false;
    let received = 0;
    const finish = (outcome: { ok: true; body: Buffer } | { ok: false; refusal: BodyRefusal }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (!outcome.ok) {
        // Nothing more of this body is kept: what the parser still delivers is dropped as it comes.
        // (Pausing would make the stream buffer it instead — for one-byte chunks, up to 16,384
        // Buffer objects per connection before the socket stops being read.)
        stream.on('data', discard);
        sink.drop();
        release();
      }
      resolve({ ...outcome, release });
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          refusal: refusal('request_timeout', 408, `body not received within ${limits.readTimeoutMs} ms`),
        }),
      limits.readTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      if (received + chunk.length > limits.maxBodyBytes) {
        finish({
          ok: false,
          refusal: refusal('payload_too_large', 413, `body is larger than ${limits.maxBodyBytes} bytes`),
        });
        return;
      }
      const refused = sink.add(chunk);
      if (refused) {
        finish({ ok: false, refusal: refused });
        return;
      }
      received += chunk.length;
    };
    const onEnd = () => finish(sink.finish());
    const onError = () => finish({ ok: false, refusal: refusal('invalid_body', 400, 'the request stream failed') });
    const onAborted = () => finish({ ok: false, refusal: refusal('invalid_body', 400, 'the request was aborted') });
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('aborted', onAborted);
  });
}
