/**
 * Reading a request body ourselves, with hard limits, before anything parses it. The Functions
 * Framework would otherwise inflate (gzip, br, deflate, zstd) and parse every body up to 1 GiB before
 * the function runs (docs/framework-seam.md). The rules make an unauthenticated request cheap:
 * - a `Content-Encoding` other than identity is refused (415) without reading a byte;
 * - a `Content-Length` over the maximum is refused (413) without reading a byte;
 * - a body's bytes are copied into blocks as they arrive, each block charged to a byte budget that
 *   all bodies being read share: what a body holds is what it has sent (its declared length costs
 *   nothing), whatever its chunking. A block the budget cannot give is answered 503 with
 *   `Retry-After` (the sender retries); a body's first `smallBodyBytes` are always given, so a flood
 *   of large bodies can neither exhaust memory nor crowd out ordinary completions;
 * - a stream that grows past the maximum (413), or past what it declared (400), is cut; one that
 *   arrives in absurdly small chunks is refused (400);
 * - a body that stalls — no byte for the idle timeout, under the minimum rate after a grace, or not
 *   done within the read timeout (arrival.ts) — is refused (408).
 * Pure except for the stream it is handed and the arrival timer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { watchArrival } from './arrival';

export interface BodyLimits {
  /** Largest body accepted (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Bytes all bodies being read at once may hold together (BODY_BUDGET_BYTES). */
  budgetBytes: number;
  /** A body's first bytes up to this are given whatever the budget holds. */
  smallBodyBytes: number;
  /** A body still arriving after this long is refused (BODY_READ_TIMEOUT_MS). */
  readTimeoutMs: number;
  /** A body with no byte for this long is refused (BODY_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: number;
  /** After a grace, a body averaging fewer bytes a second is refused (BODY_MIN_BYTES_PER_SECOND; 0: none). */
  minBytesPerSecond: number;
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

/** The bytes every body being read holds together. A body's first bytes always get in; the rest while the budget has room. */
export function createBodyBudget(limits: Pick<BodyLimits, 'budgetBytes' | 'smallBodyBytes'>) {
  let held = 0;
  return {
    /** Takes `bytes` more for a body that already holds `current`; false when the budget cannot give them. */
    take(current: number, bytes: number): boolean {
      const after = current + bytes;
      if (after > limits.smallBodyBytes && held + bytes > limits.budgetBytes) return false;
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
 * A body is copied into blocks as it arrives, never kept as the parser's chunks: each chunk is a
 * Buffer object of its own (a view of the socket's read), ~400 bytes of bookkeeping whatever its
 * data, so 150,000 one-byte chunks held as chunks cost ~60 MiB for 150 KB of body. Blocks grow from
 * 16 KiB to 1 MiB, and a body of declared length goes into one buffer of that length once half of
 * it has arrived (createBlocks), so the bytes held stay within twice what arrived plus 16 KiB, and
 * are what the budget is charged.
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
const tooLarge = (max: number) => refusal('payload_too_large', 413, `body is larger than ${max} bytes`);
const discard = () => undefined;

/**
 * The blocks a body's bytes go into; `take` charges each new block before it is allocated. Once a
 * body of declared length holds half of it, the rest goes straight into one buffer of that length
 * (the blocks copied in): it ends as that buffer, with no copy of the whole at the end.
 */
function createBlocks(capacityLimit: number, declared: boolean, take: (current: number, bytes: number) => boolean) {
  let blocks: Buffer[] = [];
  let capacity = 0;
  let filled = 0; // bytes in the last block
  /** The next block: one of growing size, or the rest of a declared body. */
  function grow(): Buffer | undefined {
    const whole = declared && capacity > 0 && 2 * capacity >= capacityLimit;
    const size = whole
      ? capacityLimit - capacity
      : Math.min(LARGEST_BLOCK_BYTES, Math.max(FIRST_BLOCK_BYTES, capacity), capacityLimit - capacity);
    if (!take(capacity, size)) return undefined;
    if (whole) {
      const body = Buffer.allocUnsafe(capacityLimit);
      let at = 0;
      for (const block of blocks) at += block.copy(body, at);
      blocks = [body];
      filled = capacity;
    } else {
      blocks.push(Buffer.allocUnsafe(size));
      filled = 0;
    }
    capacity += size;
    return blocks.at(-1);
  }
  return {
    /** Copies `chunk` in; false when a block it needs cannot be charged. */
    add(chunk: Buffer): boolean {
      let offset = 0;
      while (offset < chunk.length) {
        let last = blocks.at(-1);
        if (!last || filled === last.length) last = grow();
        if (!last) return false;
        const copied = chunk.copy(last, filled, offset);
        filled += copied;
        offset += copied;
      }
      return true;
    },
    /** The body's `length` bytes as one buffer; the blocks are let go. */
    join(length: number): Buffer {
      const body = blocks.length === 1 ? blocks[0]!.subarray(0, length) : Buffer.concat(blocks, length);
      blocks = [];
      return body;
    },
    drop(): void {
      blocks = [];
    },
  };
}

/** What a chunk makes of a body of `received` bytes after `events` chunks: a refusal, or nothing. */
function chunkRefusal(
  declared: number | undefined,
  limits: BodyLimits,
  received: number,
  events: number,
): BodyRefusal | undefined {
  if (declared !== undefined && received > declared)
    return refusal('invalid_body', 400, 'body is longer than its Content-Length');
  if (received > limits.maxBodyBytes) return tooLarge(limits.maxBodyBytes);
  if (events > CHUNK_COUNT_FLOOR && received / events < MIN_MEAN_CHUNK_BYTES) {
    return refusal(
      'invalid_body',
      400,
      `body arrives in too many small chunks (${events} for ${received} bytes); send larger writes`,
    );
  }
  return undefined;
}

/**
 * Reads `stream` into one buffer under `limits`, charging its blocks to `budget` as they fill.
 * Whatever the outcome, `release()` gives the bytes back (call it once nothing reads the body any
 * more). A refusal forgets what was read and drops whatever still arrives; the caller answers it
 * and then drains the rest or closes the connection.
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
  const blocks = createBlocks(declared ?? limits.maxBodyBytes, declared !== undefined, (current, bytes) => {
    if (!budget.take(current, bytes)) return false;
    taken += bytes;
    return true;
  });
  return new Promise<BodyRead>((resolve) => {
    let settled = false;
    let received = 0;
    let events = 0;
    const finish = (outcome: { ok: true; body: Buffer } | { ok: false; refusal: BodyRefusal }) => {
      if (settled) return;
      settled = true;
      arrival.stop();
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (!outcome.ok) {
        // Nothing more of this body is kept: what the parser still delivers is dropped as it comes.
        // (Pausing would make the stream buffer it instead — for one-byte chunks, up to 16,384
        // Buffer objects per connection before the socket stops being read.)
        stream.on('data', discard);
        blocks.drop();
        release();
      }
      resolve({ ...outcome, release });
    };
    const arrival = watchArrival(
      { idleMs: limits.idleTimeoutMs, minBytesPerSecond: limits.minBytesPerSecond, totalMs: limits.readTimeoutMs },
      (stall) => finish({ ok: false, refusal: refusal('request_timeout', 408, stall.message) }),
    );
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      events++;
      arrival.arrived(chunk.length);
      const refused = chunkRefusal(declared, limits, received, events);
      if (refused) return finish({ ok: false, refusal: refused });
      if (!blocks.add(chunk)) finish({ ok: false, refusal: overloaded() });
    };
    const onEnd = () =>
      finish(
        declared !== undefined && received !== declared
          ? { ok: false, refusal: refusal('invalid_body', 400, 'body is shorter than its Content-Length') }
          : { ok: true, body: blocks.join(received) },
      );
    const onError = () => finish({ ok: false, refusal: refusal('invalid_body', 400, 'the request stream failed') });
    const onAborted = () => finish({ ok: false, refusal: refusal('invalid_body', 400, 'the request was aborted') });
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('aborted', onAborted);
  });
}
