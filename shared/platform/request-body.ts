/**
 * Reading a request body ourselves, with hard limits, before anything parses it. The Functions
 * Framework would otherwise inflate (gzip, br, deflate, zstd) and parse every body up to 1 GiB before
 * the function runs (docs/request-bodies.md). The rules here make an unauthenticated request cheap:
 * - a `Content-Encoding` other than identity is refused (415) without reading a byte;
 * - a `Content-Length` over the maximum is refused (413) without reading a byte;
 * - a body is read into one buffer of its declared size (no copies), and a stream that grows past
 *   the maximum, or past what it declared, is cut (413);
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

export type BodyRefusalCode = 'unsupported_encoding' | 'payload_too_large' | 'overloaded' | 'request_timeout' | 'invalid_body';

export interface BodyRefusal {
  code: BodyRefusalCode;
  status: 400 | 408 | 413 | 415 | 503;
  message: string;
}

const refusal = (code: BodyRefusalCode, status: BodyRefusal['status'], message: string): BodyRefusal => ({ code, status, message });

/** Whether a request carries a body at all (the rule of `type-is`'s hasBody). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/** The declared length, `undefined` when none (chunked), `NaN` when it is not a number. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  if (value === undefined) return undefined;
  return /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

/** What the headers alone decide: a refusal, or nothing (read the body). */
export function checkBodyHeaders(headers: IncomingHttpHeaders, limits: Pick<BodyLimits, 'maxBodyBytes'>): BodyRefusal | undefined {
  const encoding = String(headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    return refusal('unsupported_encoding', 415, `Content-Encoding ${encoding.slice(0, 32)} is not accepted; send the body uncompressed`);
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

export type BodyRead = { ok: true; body: Buffer; release: () => void } | { ok: false; refusal: BodyRefusal; release: () => void };

/**
 * Reads `stream` into one buffer under `limits`, taking its bytes from `budget`. Whatever the
 * outcome, `release()` gives the bytes back (call it once the body is no longer needed). A refusal
 * stops reading at once; the caller answers it and closes the connection.
 */
export function readBody(stream: Readable, headers: IncomingHttpHeaders, limits: BodyLimits, budget: BodyBudget): Promise<BodyRead> {
  const declared = declaredLength(headers);
  let taken = 0;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    budget.give(taken);
  };
  return new Promise<BodyRead>((resolve) => {
    let settled = false;
    // With a declared length, one buffer of that size holds the body; chunked bodies are collected.
    const whole = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
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
        stream.pause();
        // Nothing more of this body will be read; whatever is kept so far goes back now.
        chunks.length = 0;
        release();
      }
      resolve({ ...outcome, release });
    };
    const timer = setTimeout(() => finish({ ok: false, refusal: refusal('request_timeout', 408, `body not received within ${limits.readTimeoutMs} ms`) }), limits.readTimeoutMs);
    if (declared !== undefined) {
      if (!budget.take(0, declared)) {
        clearTimeout(timer);
        settled = true;
        resolve({ ok: false, refusal: refusal('overloaded', 503, 'too many large bodies in flight; retry later'), release });
        return;
      }
      taken = declared;
    }
    const onData = (chunk: Buffer) => {
      if (received + chunk.length > limits.maxBodyBytes) {
        finish({ ok: false, refusal: refusal('payload_too_large', 413, `body is larger than ${limits.maxBodyBytes} bytes`) });
        return;
      }
      if (whole) {
        if (received + chunk.length > whole.length) {
          finish({ ok: false, refusal: refusal('invalid_body', 400, 'body is longer than its Content-Length') });
          return;
        }
        chunk.copy(whole, received);
      } else {
        if (!budget.take(received, chunk.length)) {
          finish({ ok: false, refusal: refusal('overloaded', 503, 'too many large bodies in flight; retry later') });
          return;
        }
        taken += chunk.length;
        chunks.push(chunk);
      }
      received += chunk.length;
    };
    const onEnd = () => {
      if (whole && received !== whole.length) {
        finish({ ok: false, refusal: refusal('invalid_body', 400, 'body is shorter than its Content-Length') });
        return;
      }
      finish({ ok: true, body: whole ?? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)) });
    };
    const onError = () => finish({ ok: false, refusal: refusal('invalid_body', 400, 'the request stream failed') });
    const onAborted = () => finish({ ok: false, refusal: refusal('invalid_body', 400, 'the request was aborted') });
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('aborted', onAborted);
  });
}
