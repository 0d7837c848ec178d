import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import {
  CHUNK_COUNT_FLOOR,
  checkBodyHeaders,
  createBodyBudget,
  hasBody,
  MIN_MEAN_CHUNK_BYTES,
  readBody,
  type BodyLimits,
} from '../../../../shared/framework/request-body';

const limits: BodyLimits = {
  maxBodyBytes: 1000,
  budgetBytes: 2000,
  smallBodyBytes: 100,
  readTimeoutMs: 400,
  idleTimeoutMs: 200,
  minBytesPerSecond: 0,
};

describe('checkBodyHeaders: what the headers alone refuse, before a byte is read', () => {
  it.each([
    ['gzip', { 'content-encoding': 'gzip', 'content-length': '10' }, 415, 'unsupported_encoding'],
    ['br', { 'content-encoding': 'br' }, 415, 'unsupported_encoding'],
    ['deflate, upper case', { 'content-encoding': 'DEFLATE' }, 415, 'unsupported_encoding'],
    ['a stacked encoding', { 'content-encoding': 'identity, gzip' }, 415, 'unsupported_encoding'],
    ['a length over the maximum', { 'content-length': '1001' }, 413, 'payload_too_large'],
    ['a length of 1 TB', { 'content-length': '1000000000000' }, 413, 'payload_too_large'],
    ['a length that is not a number', { 'content-length': '12abc' }, 400, 'invalid_body'],
  ])('refuses %s', (_name, headers, status, code) => {
    expect(checkBodyHeaders(headers, limits)).toMatchObject({ status, code });
  });

  it.each([
    ['identity', { 'content-encoding': 'identity', 'content-length': '10' }],
    ['no encoding, the maximum length', { 'content-length': '1000' }],
    ['chunked (no length)', { 'transfer-encoding': 'chunked' }],
  ])('lets %s through to be read', (_name, headers) => {
    expect(checkBodyHeaders(headers, limits)).toBeUndefined();
  });

  it('knows a request without a body', () => {
    expect(hasBody({})).toBe(false);
    expect(hasBody({ 'content-length': '0' })).toBe(false);
    expect(hasBody({ 'content-length': '3' })).toBe(true);
    expect(hasBody({ 'transfer-encoding': 'chunked' })).toBe(true);
  });
});

describe('createBodyBudget: large bodies share a budget, small ones always get in', () => {
  it('admits large bodies while the budget has room, and again once they give it back', () => {
    const budget = createBodyBudget(limits);
    expect(budget.take(0, 1000)).toBe(true);
    expect(budget.take(0, 1000)).toBe(true);
    expect(budget.take(0, 500)).toBe(false);
    expect(budget.take(0, 100)).toBe(true); // small: admitted past the budget
    budget.give(1000);
    expect(budget.take(0, 500)).toBe(true);
  });

  it('never holds more than the budget plus what small bodies hold (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.boolean())), (ops) => {
        const budget = createBodyBudget(limits);
        let small = 0;
        const held: number[] = [];
        for (const [bytes, give] of ops) {
          if (give && held.length) {
            const b = held.pop()!;
            budget.give(b);
            if (b <= limits.smallBodyBytes) small -= b;
          } else if (budget.take(0, bytes)) {
            held.push(bytes);
            if (bytes <= limits.smallBodyBytes) small += bytes;
          }
          expect(budget.held).toBeLessThanOrEqual(limits.budgetBytes + small);
        }
      }),
    );
  });
});

function stream(chunks: Buffer[], end = true): PassThrough {
  const s = new PassThrough();
  setImmediate(() => {
    for (const c of chunks) s.write(c);
    if (end) s.end();
  });
  return s;
}

describe('readBody', () => {
  it('charges a declared body nothing until its bytes arrive, then its bytes, and gives them back on release', async () => {
    const budget = createBodyBudget(limits);
    const s = new PassThrough();
    const reading = readBody(s, { 'content-length': '1000' }, limits, budget);
    await new Promise((r) => setTimeout(r, 20));
    expect(budget.held).toBe(0);
    s.write(Buffer.alloc(300, 1));
    await new Promise((r) => setImmediate(r));
    expect(budget.held).toBe(1000); // one block, never past what was declared
    s.end(Buffer.alloc(700, 2));
    const read = await reading;
    expect(read.ok && read.body.length).toBe(1000);
    read.release();
    expect(budget.held).toBe(0);
  });

  it('reads a declared body into one buffer and gives its bytes back on release', async () => {
    const budget = createBodyBudget(limits);
    const read = await readBody(
      stream([Buffer.from('hello '), Buffer.from('world')]),
      { 'content-length': '11' },
      limits,
      budget,
    );
    expect(read).toMatchObject({ ok: true });
    expect(read.ok && read.body.toString()).toBe('hello world');
    expect(budget.held).toBe(11);
    read.release();
    read.release();
    expect(budget.held).toBe(0);
  });

  it('collects a chunked body', async () => {
    const read = await readBody(
      stream([Buffer.from('{"a":'), Buffer.from('1}')]),
      { 'transfer-encoding': 'chunked' },
      limits,
      createBodyBudget(limits),
    );
    expect(read.ok && read.body.toString()).toBe('{"a":1}');
  });

  it.each([
    [
      'a chunked stream past the maximum',
      { 'transfer-encoding': 'chunked' },
      [Buffer.alloc(600), Buffer.alloc(600)],
      413,
      'payload_too_large',
    ],
    ['more bytes than declared', { 'content-length': '5' }, [Buffer.from('123456')], 400, 'invalid_body'],
    ['fewer bytes than declared', { 'content-length': '9' }, [Buffer.from('1234')], 400, 'invalid_body'],
  ])('cuts %s, holding nothing afterwards', async (_name, headers, chunks, status, code) => {
    const budget = createBodyBudget(limits);
    const read = await readBody(stream(chunks), headers, limits, budget);
    expect(read).toMatchObject({ ok: false, refusal: { status, code } });
    expect(budget.held).toBe(0);
  });

  it('answers 503 once a large body has bytes the budget cannot hold, holding none of them', async () => {
    const budget = createBodyBudget(limits);
    expect(budget.take(0, 1900)).toBe(true);
    const read = await readBody(stream([Buffer.alloc(500)], false), { 'content-length': '500' }, limits, budget);
    expect(read).toMatchObject({ ok: false, refusal: { status: 503, code: 'overloaded' } });
    expect(budget.held).toBe(1900);
    // A small body still gets in.
    const small = await readBody(stream([Buffer.from('ok')]), { 'content-length': '2' }, limits, budget);
    expect(small.ok).toBe(true);
  });

  it('refuses a body that sends nothing for the idle timeout (408), at that time, holding nothing', async () => {
    const budget = createBodyBudget(limits);
    const started = Date.now();
    const read = await readBody(new PassThrough(), { 'content-length': '1000' }, limits, budget);
    expect(read).toMatchObject({ ok: false, refusal: { status: 408, message: 'no byte of the body for 0.2 s' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(budget.held).toBe(0);
  });

  it('refuses a body that keeps arriving but is not done within the read timeout (408)', async () => {
    const budget = createBodyBudget(limits);
    const s = new PassThrough();
    const drip = setInterval(() => s.write('x'), 50);
    const read = await readBody(s, { 'content-length': '1000' }, limits, budget);
    clearInterval(drip);
    expect(read).toMatchObject({ ok: false, refusal: { status: 408, message: 'body not received within 0.4 s' } });
    expect(budget.held).toBe(0);
  });

  it('refuses a body that does not arrive within the read timeout (408)', async () => {
    const budget = createBodyBudget(limits);
    const read = await readBody(stream([Buffer.from('12')], false), { 'content-length': '10' }, limits, budget);
    expect(read).toMatchObject({ ok: false, refusal: { status: 408, code: 'request_timeout' } });
    expect(budget.held).toBe(0);
  });

  it('refuses a slow chunked body at the read timeout too (408), holding nothing', async () => {
    const budget = createBodyBudget(limits);
    const read = await readBody(
      stream([Buffer.from('{"a":')], false),
      { 'transfer-encoding': 'chunked' },
      limits,
      budget,
    );
    expect(read).toMatchObject({ ok: false, refusal: { status: 408, code: 'request_timeout' } });
    expect(budget.held).toBe(0);
  });
});

describe('readBody: a chunked body costs its bytes, whatever its chunking', () => {
  const big: BodyLimits = {
    maxBodyBytes: 32 * 1024 * 1024,
    budgetBytes: 96 * 1024 * 1024,
    smallBodyBytes: 1024 * 1024,
    readTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    minBytesPerSecond: 0,
  };

  it('refuses a body of absurdly small chunks (400) once it has sent enough of them, holding nothing', async () => {
    const budget = createBodyBudget(big);
    const oneByte = Array.from({ length: CHUNK_COUNT_FLOOR + 10 }, () => Buffer.from('x'));
    const read = await readBody(stream(oneByte, false), { 'transfer-encoding': 'chunked' }, big, budget);
    expect(read).toMatchObject({
      ok: false,
      refusal: { status: 400, code: 'invalid_body', message: expect.stringMatching(/too many small chunks/) },
    });
    expect(budget.held).toBe(0);
  });

  it('reads any chunking of chunks averaging at least the floor: the same bytes, held within twice the body plus one block (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: MIN_MEAN_CHUNK_BYTES, maxLength: 40_000 }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (parts) => {
          const budget = createBodyBudget(big);
          const chunks = parts.map((p) => Buffer.from(p));
          const whole = Buffer.concat(chunks);
          const read = await readBody(stream(chunks), { 'transfer-encoding': 'chunked' }, big, budget);
          expect(read.ok && read.body.equals(whole)).toBe(true);
          expect(budget.held).toBeLessThanOrEqual(2 * whole.length + 16 * 1024);
          read.release();
          expect(budget.held).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads a declared body into one buffer of its length, charged at most twice what arrived at every step (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: MIN_MEAN_CHUNK_BYTES, maxLength: 200_000 }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (parts) => {
          const budget = createBodyBudget(big);
          const whole = Buffer.concat(parts.map((p) => Buffer.from(p)));
          const s = new PassThrough();
          const reading = readBody(s, { 'content-length': String(whole.length) }, big, budget);
          let sent = 0;
          for (const part of parts) {
            s.write(Buffer.from(part));
            sent += part.length;
            await new Promise((r) => setImmediate(r));
            expect(budget.held).toBeLessThanOrEqual(Math.max(2 * sent, 16 * 1024));
          }
          s.end();
          const read = await reading;
          expect(read.ok && read.body.equals(whole)).toBe(true);
          expect(read.ok && read.body.buffer.byteLength >= whole.length).toBe(true);
          expect(budget.held).toBe(whole.length);
          read.release();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reads a chunked body below the count floor in one-byte chunks, charging blocks, not chunks', async () => {
    const budget = createBodyBudget(big);
    const oneByte = Array.from({ length: CHUNK_COUNT_FLOOR }, (_, i) => Buffer.from([i % 256]));
    const read = await readBody(stream(oneByte), { 'transfer-encoding': 'chunked' }, big, budget);
    expect(read.ok && read.body.length).toBe(CHUNK_COUNT_FLOOR);
    expect(read.ok && read.body[300]).toBe(300 % 256);
    expect(budget.held).toBe(16 * 1024);
  });
});
