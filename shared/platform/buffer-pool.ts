/**
 * Large request bodies read into reused memory. Every fresh megabyte-sized Buffer is external memory
 * to V8, and external memory is what schedules its full collections (one per ~64 MiB allocated): a
 * webhook that allocated a new buffer for every 1.3 MB body collected its whole heap every ~40
 * requests for that alone. Buffers from here are given back once nothing else can read them and
 * taken again by the next large body.
 *
 * Sizes come in classes (eight per power of two, so at most 1/8 is wasted), each with a list of free
 * buffers. The pool keeps at most `maxFreeBytes` of free buffers; bodies over `maxBufferBytes` are not
 * pooled at all (they are rare, and their memory should go back to the system). A buffer must be
 * given back only when no one holds it any more: the caller decides when (request-body.ts lends
 * each one until its request is over and every borrower of the body has finished). Pure.
 */
export interface BufferPoolLimits {
  /** Smaller bodies get a fresh buffer (Node's own slab takes the smallest; V8 collects the rest young). */
  minBufferBytes: number;
  /** Larger bodies get a fresh buffer and are never kept. */
  maxBufferBytes: number;
  /** Free buffers kept at most, in bytes. */
  maxFreeBytes: number;
}

export const BODY_POOL_LIMITS: BufferPoolLimits = {
  minBufferBytes: 256 * 1024,
  maxBufferBytes: 8 * 1024 * 1024,
  maxFreeBytes: 24 * 1024 * 1024,
};

export interface BufferPool {
  /** A buffer of exactly `bytes` (contents undefined): a view of a pooled one when the size is pooled. */
  take(bytes: number): Buffer;
  /** Gives back what `take` returned; its bytes may be handed to the next `take` at once. */
  give(buffer: Buffer): void;
  /** Bytes in free buffers. */
  readonly freeBytes: number;
}

/** The capacity a pooled buffer of `bytes` gets: `bytes` rounded up to an eighth of its power of two. */
export function sizeClass(bytes: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

export function createBufferPool(limits: BufferPoolLimits): BufferPool {
  const free = new Map<number, ArrayBuffer[]>();
  let freeBytes = 0;
  const pooled = (bytes: number) => bytes >= limits.minBufferBytes && bytes <= limits.maxBufferBytes;
  return {
    take(bytes) {
      if (!pooled(bytes)) return Buffer.allocUnsafe(bytes);
      const capacity = sizeClass(bytes);
      const memory = free.get(capacity)?.pop();
      if (memory) freeBytes -= capacity;
      return Buffer.from(memory ?? new ArrayBuffer(capacity), 0, bytes);
    },
    give(buffer) {
      const capacity = buffer.buffer.byteLength;
      // Only what take() made: a view from the start of a memory of its own, of the length's class.
      if (!pooled(buffer.length) || buffer.byteOffset !== 0 || capacity !== sizeClass(buffer.length)) return;
      if (freeBytes + capacity > limits.maxFreeBytes) return;
      const list = free.get(capacity) ?? [];
      if (list.includes(buffer.buffer as ArrayBuffer)) return; // given twice: keep one
      list.push(buffer.buffer as ArrayBuffer);
      free.set(capacity, list);
      freeBytes += capacity;
    },
    get freeBytes() {
      return freeBytes;
    },
  };
}

/** One body's way back to its pool: lent to whatever reads it after the handler, given back when all are done. */
export interface Lease {
  /** The buffer is read until `until` settles (a publish or an upload that holds it). */
  borrow(until: Promise<unknown>): void;
  /** The handler no longer reads it; once every borrower has settled too, it is given back. */
  done(): void;
}

export function createLease(giveBack: () => void): Lease {
  let holders = 1; // the handler
  let ended = false;
  const drop = () => {
    holders--;
    if (holders === 0) giveBack();
  };
  return {
    borrow(until) {
      if (holders === 0) throw new Error('a body was lent after it went back to its pool');
      holders++;
      until.then(drop, drop);
    },
    done() {
      if (ended) return;
      ended = true;
      drop();
    },
  };
}
