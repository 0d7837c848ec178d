/**
 * The body pool: large bodies reuse memory, small and huge ones never do, the free memory kept is
 * bounded, and a lent body goes back only after its handler and every borrower are done.
 */
import fc from 'fast-check';
import { createBufferPool, createLease, sizeClass } from '../../../../shared/platform/buffer-pool';

const limits = { minBufferBytes: 1024, maxBufferBytes: 1 << 20, maxFreeBytes: 3 << 16 };

it('rounds a size up by at most an eighth, to a class that holds it (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 << 20 }), (bytes) => {
      const capacity = sizeClass(bytes);
      expect(capacity).toBeGreaterThanOrEqual(bytes);
      expect(capacity - bytes).toBeLessThanOrEqual(Math.max(1, bytes / 8));
      expect(sizeClass(capacity)).toBe(capacity);
    }),
  );
});

it('hands a given-back buffer to the next body of its class, and only of its class', () => {
  const pool = createBufferPool(limits);
  const first = pool.take(40_000);
  expect(first.length).toBe(40_000);
  pool.give(first);
  expect(pool.freeBytes).toBe(sizeClass(40_000));
  const other = pool.take(100_000);
  expect(other.buffer).not.toBe(first.buffer);
  const again = pool.take(39_000);
  expect(again.buffer).toBe(first.buffer);
  expect(again.length).toBe(39_000);
  expect(pool.freeBytes).toBe(0);
});

it('never pools small or huge bodies, nor keeps more free memory than its limit', () => {
  const pool = createBufferPool(limits);
  for (const bytes of [100, 2 << 20]) {
    const b = pool.take(bytes);
    pool.give(b);
    expect(pool.freeBytes).toBe(0);
  }
  const held = [pool.take(60_000), pool.take(60_000), pool.take(60_000), pool.take(60_000)];
  for (const b of held) pool.give(b);
  expect(pool.freeBytes).toBe(3 * sizeClass(60_000));
  expect(pool.freeBytes).toBeLessThanOrEqual(limits.maxFreeBytes);
});

it('ignores a buffer it did not make, and one given back twice', () => {
  const pool = createBufferPool(limits);
  pool.give(Buffer.alloc(40_000));
  expect(pool.freeBytes).toBe(0);
  const b = pool.take(40_000);
  pool.give(b);
  pool.give(b);
  expect(pool.freeBytes).toBe(sizeClass(40_000));
  expect(pool.take(40_000).buffer).toBe(b.buffer);
  expect(pool.take(40_000).buffer).not.toBe(b.buffer);
});

it('gives a lent body back once the handler is done and every borrower has settled, failed ones included', async () => {
  let given = 0;
  const lease = createLease(() => given++);
  let settle!: () => void;
  let fail!: (e: Error) => void;
  lease.borrow(new Promise<void>((resolve) => (settle = resolve)));
  lease.borrow(new Promise<void>((_, reject) => (fail = reject)));
  lease.done();
  lease.done(); // said twice: still one holder less
  await Promise.resolve();
  expect(given).toBe(0);
  settle();
  await new Promise((r) => setImmediate(r));
  expect(given).toBe(0);
  fail(new Error('publish timed out'));
  await new Promise((r) => setImmediate(r));
  expect(given).toBe(1);
  expect(() => lease.borrow(Promise.resolve())).toThrow(/after it went back/);
});
