/**
 * decodeForwardedBody: the webhook's verdict without decoding the structure file gives the full
 * parse's verdict for every body — valid and invalid base64, escapes, duplicate and escaped keys,
 * the key elsewhere, BOM, non-ASCII, broken JSON — and takes the fast path where it should.
 */
import fc from 'fast-check';
import { decodeCompletionBody } from '../../../../shared/contract/messages';
import { decodeForwardedBody } from '../../../../shared/contract/forwarded-body';

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
