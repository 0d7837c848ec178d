/** What a job document keeps of a completion: always storable by Firestore, always bounded. */
import fc from 'fast-check';
import {
  documentError,
  documentResult,
  isFirestoreStorable,
  MAX_DOCUMENT_EXTRAS_BYTES,
  MAX_TRACEBACK_CHARS,
} from '../../../../shared/completion/job-document';
import { completionPayloadSchema, type CompletionPayload } from '../../../../shared/contract/schemas';

const payload = (over: Record<string, unknown>): CompletionPayload =>
  completionPayloadSchema.parse({ call_id: 'c', status: 'success', metadata: { job_id: 'j' }, ...over });

it.each([
  ['a flat object', { a: 1, b: 'x', c: null, d: true }, true],
  ['an array of maps', { a: [{ b: 1 }] }, true],
  ['an array in an array', { pose: [[1, 2, 3]] }, false],
  ['an empty field name', { '': 1 }, false],
  ['a reserved field name', { __x__: 1 }, false],
  ['a field name over 1,500 bytes', { ['k'.repeat(1501)]: 1 }, false],
  ['maps 21 deep', JSON.parse(`${'{"a":'.repeat(21)}1${'}'.repeat(21)}`), false],
  ['maps 19 deep', JSON.parse(`${'{"a":'.repeat(19)}1${'}'.repeat(19)}`), true],
])('isFirestoreStorable: %s → %s', (_name, value, expected) => {
  expect(isFirestoreStorable(value)).toBe(expected);
});

const unreported = { confidence: null, ptm_score: null, iptm_score: null, plddt_score: null, execution_time: null };

it('keeps scores and small extras on the document, and moves unstorable or large extras to the file', () => {
  expect(documentResult(payload({ result: { affinity: 0.7, note: 'ok' } }))).toEqual({
    result: { ...unreported, affinity: 0.7, note: 'ok' },
    extrasInFile: false,
  });
  expect(documentResult(payload({ result: { affinity: 0.7, pose: [[1, 2, 3]] } }))).toEqual({
    result: { ...unreported, affinity: 0.7 },
    extrasInFile: true,
  });
  expect(documentResult(payload({ result: { affinity: 0.7, blob: 'x'.repeat(1_200_000) } }))).toEqual({
    result: { ...unreported, affinity: 0.7 },
    extrasInFile: true,
  });
  expect(documentResult(payload({ result: { affinity: 1, structure_file_base64: 'QUFB' } })).result).toEqual({
    ...unreported,
    affinity: 1,
  });
});

it('puts every score on the document, null when not reported (the ranking query orders by affinity and confidence)', () => {
  expect(documentResult(payload({ result: {} })).result).toEqual({ ...unreported, affinity: null });
  expect(documentResult(payload({ result: { confidence: 0.4, affinity: null } })).result).toEqual({
    ...unreported,
    affinity: null,
    confidence: 0.4,
  });
  expect(documentResult(payload({})).result).toBeNull();
});

it('bounds the error summary and says when the full error is only in the file', () => {
  const { error, detailsInFile } = documentError(
    payload({ status: 'failure', error: { message: 'oom', traceback: 'T'.repeat(22 * 1024 * 1024) + 'END' } }),
  );
  expect(detailsInFile).toBe(true);
  expect(error.truncated).toBe(true);
  expect(error.traceback).toHaveLength(MAX_TRACEBACK_CHARS);
  expect(error.traceback!.endsWith('END')).toBe(true);
  expect(documentError(payload({ status: 'timeout' }))).toEqual({
    error: { message: 'Modal call ended with timeout' },
    detailsInFile: false,
  });
  expect(documentError(payload({ status: 'failure', error: 'plain' }))).toEqual({
    error: { message: 'plain' },
    detailsInFile: false,
  });
});

it('always yields a document Firestore can store, under 64 KiB, for any result or error JSON (property)', () => {
  const json = fc.jsonValue({ maxDepth: 25 });
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), json, { maxKeys: 6 }),
      fc.dictionary(fc.string(), json, { maxKeys: 6 }),
      (result, error) => {
        const p = payload({ status: 'failure', result, error: { ...error, message: 'm' } });
        const doc = { result: documentResult(p).result, error: documentError(p).error };
        expect(isFirestoreStorable(doc)).toBe(true);
        expect(Buffer.byteLength(JSON.stringify(doc))).toBeLessThan(MAX_DOCUMENT_EXTRAS_BYTES * 2 + 16 * 1024);
      },
    ),
    { numRuns: 400 },
  );
});
