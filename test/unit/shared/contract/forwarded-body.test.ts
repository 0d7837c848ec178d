/**
 * decodeForwardedBody: the webhook's verdict without decoding the structure file gives the full
 * parse's verdict for every body — valid and invalid base64, escapes, duplicate and escaped keys,
 * the key elsewhere, BOM, non-ASCII, broken JSON — and takes the fast path where it should.
 */
import fc from 'fast-check';
import { decodeCompletionBody } from '../../../../shared/contract/messages';
import { decodeForwardedBody, decodeWithStructure } from '../../../../shared/contract/forwarded-body';
import { base64RunEnd } from '../../../../shared/contract/json-bytes';

const BIG = 70 * 1024;
const base64Body = (n: number) => Buffer.alloc(Math.ceil((n * 3) / 4), 7).toString('base64');

/** The verdicts agree: same ok, same code, and payloads equal once the structure is set aside. */
function expectSameVerdict(body: Buffer): void {
  const full = decodeCompletionBody(body);
  const fast = decodeForwardedBody(body);
  expect(fast.ok).toBe(full.ok);
  if (!full.ok || !fast.ok) {
    expect(fast).toEqual(full);
    return;
  }
  const strip = (p: typeof full.payload) => ({
    ...p,
    result: p.result ? { ...p.result, structure_file_base64: undefined } : p.result,
  });
  expect(strip(fast.payload)).toEqual(strip(full.payload));
  expect([full.payload.result?.structure_file_base64, '']).toContain(fast.payload.result?.structure_file_base64);
  // The worker's reading: the same verdict, and the structure's bytes exactly when it was left out.
  const withStructure = decodeWithStructure(body);
  expect(withStructure.verdict).toEqual(fast);
  const left = fast.payload.result?.structure_file_base64 === '' && full.payload.result?.structure_file_base64 !== '';
  expect(withStructure.structure !== undefined).toBe(left);
  if (left) {
    const expected = Buffer.from(full.payload.result!.structure_file_base64!, 'base64');
    expect(withStructure.structure!.equals(expected)).toBe(true);
  }
}

const payloadText = (structure: string, extra = '') =>
  `{"call_id":"c1","status":"success","result":{"affinity":0.5,${extra}"structure_file_base64":${structure}},"metadata":{"job_id":"j1"}}`;

it.each([
  ['a plain large base64 structure', payloadText(`"${base64Body(BIG)}"`)],
  ['padding and trailing spaces', payloadText(`"${base64Body(BIG)}==  "`)],
  ['a character outside base64', payloadText(`"${base64Body(BIG)}!"`)],
  ['three = signs', payloadText(`"${base64Body(BIG)}==="`)],
  ['an escaped newline inside', payloadText(`"${base64Body(BIG)}\\n${base64Body(8)}"`)],
  ['a raw newline inside (invalid JSON)', payloadText(`"${base64Body(BIG)}\n${base64Body(8)}"`)],
  ['a raw tab inside (invalid JSON)', payloadText(`"${base64Body(BIG)}\t"`)],
  ['a null structure', payloadText('null')],
  ['a number', payloadText('12')],
  ['the key twice (last wins)', payloadText(`"${base64Body(BIG)}"`, `"structure_file_base64":"!!",`)],
  ['an escaped key after it, invalid', payloadText(`"${base64Body(BIG)}","structure\\u005ffile_base64":"!!"`)],
  ['an escaped key before it, invalid', payloadText(`"${base64Body(BIG)}"`, `"structure\\u005ffile_base64":"!!",`)],
  [
    'the key in metadata only',
    `{"call_id":"c1","status":"success","result":{"affinity":1},"metadata":{"job_id":"j1","structure_file_base64":"${base64Body(BIG)}!"}}`,
  ],
  [
    'the key inside another string',
    `{"call_id":"c1","status":"success","result":{"note":"\\"structure_file_base64\\":\\"${base64Body(BIG)}\\""},"metadata":{"job_id":"j1"}}`,
  ],
  ['an invalid job id beside a valid structure', payloadText(`"${base64Body(BIG)}"`).replace('"j1"', '"../x"')],
  ['broken JSON after the structure', payloadText(`"${base64Body(BIG)}"`).slice(0, -3)],
  ['a UTF-8 BOM', `\ufeff${payloadText(`"${base64Body(BIG)}"`)}`],
  ['non-ASCII in another field', payloadText(`"${base64Body(BIG)}"`, '"note":"Zürich ✓",')],
  ['an unterminated structure string', payloadText(`"${base64Body(BIG)}`).slice(0, -3)],
])('%s: the same verdict as the full parse', (_name, text) => {
  expectSameVerdict(Buffer.from(text));
});

it("gives the full parse's verdict for any body around a large structure (property)", () => {
  const piece = fc.constantFrom(
    'A',
    'z',
    '9',
    '+',
    '/',
    '_',
    '-',
    '=',
    ' ',
    '!',
    '\\n',
    '\\"',
    '"',
    '\n',
    'é',
    '\\u0041',
    '}',
    ',',
  );
  const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 6 }),
      fc.array(piece, { maxLength: 4 }),
      json,
      fc.boolean(),
      fc.boolean(),
      (before, after, other, duplicate, inMetadata) => {
        const structure = `"${before.join('')}${base64Body(BIG)}${after.join('')}"`;
        const text = inMetadata
          ? `{"call_id":"c1","status":"success","result":{"x":${other}},"metadata":{"job_id":"j1","structure_file_base64":${structure}}}`
          : payloadText(structure, `"x":${other},${duplicate ? `"structure_file_base64":"QQ==",` : ''}`);
        expectSameVerdict(Buffer.from(text));
      },
    ),
    { numRuns: 300 },
  );
});

it('leaves the structure out of the parse when it is one plain base64 string, and only then', () => {
  const fast = decodeForwardedBody(Buffer.from(payloadText(`"${base64Body(BIG)}"`)));
  expect(fast.ok && fast.payload.result?.structure_file_base64).toBe('');
  const small = decodeForwardedBody(Buffer.from(payloadText('"QUFB"')));
  expect(small.ok && small.payload.result?.structure_file_base64).toBe('QUFB');
});

/** The rule a byte at a time: what base64RunEnd reads four at a time. */
function byteRunEnd(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && /[A-Za-z0-9+/_-]/.test(String.fromCharCode(bytes[i]!))) i++;
  return i;
}

it('finds the end of a base64 run where a byte-at-a-time reading does, at any alignment (property)', () => {
  const anyByte = fc.integer({ min: 0, max: 255 });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 300 }),
      fc.array(fc.tuple(fc.nat(), anyByte), { maxLength: 3 }),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 5 }),
      (offset, length, strays, startCut, endCut) => {
        // A view that starts `offset` bytes into its memory, so every alignment of the words is met.
        const memory = Buffer.alloc(offset + length + 8);
        const view = memory.subarray(offset, offset + length);
        Buffer.from(base64Body(length + 4)).copy(view, 0, 0, length);
        for (const [at, byte] of strays) if (length) view[at % length] = byte;
        const start = Math.min(startCut, length);
        const end = Math.max(start, length - endCut);
        expect(base64RunEnd(view, start, end)).toBe(byteRunEnd(view, start, end));
      },
    ),
    { numRuns: 2000 },
  );
});

it('refuses a large structure with one stray byte anywhere in it, whatever its alignment (property)', () => {
  const stray = fc.constantFrom('!', '=', ' ', '.', '\x7f', 'é', '\\n');
  fc.assert(
    fc.property(fc.nat({ max: BIG - 1 }), stray, fc.integer({ min: 0, max: 3 }), (at, bad, shift) => {
      const clean = base64Body(BIG);
      const text = ' '.repeat(shift) + payloadText(`"${clean.slice(0, at)}${bad}${clean.slice(at)}"`);
      expectSameVerdict(Buffer.from(text));
      // An escaped newline is the one stray the schema allows (it takes the full parse).
      expect(decodeForwardedBody(Buffer.from(text)).ok).toBe(bad === '\\n');
    }),
    { numRuns: 200 },
  );
});
