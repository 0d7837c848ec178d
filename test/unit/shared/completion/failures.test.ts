/** Which failures the worker retries and which it dead-letters at once. */
import { classifyFailure, createRetryBudget } from '../../../../shared/completion/failures';

const grpc = (code: number, message: string) => Object.assign(new Error(`${code} ${message}`), { code });
const errno = (code: string) => Object.assign(new Error(code), { code });
const http = (status: number) => Object.assign(new Error(`HTTP ${status}`), { code: status });

it.each([
  [
    'nested arrays refused by Firestore',
    grpc(3, 'INVALID_ARGUMENT: Cannot convert an array value in an array value'),
    'permanent',
  ],
  ['a document over 1 MiB', grpc(3, 'INVALID_ARGUMENT: Document exceeds the maximum size'), 'permanent'],
  ['a 23 MB commit', grpc(8, 'RESOURCE_EXHAUSTED: gRPC message exceeds maximum size 4194304'), 'permanent'],
  ['quota exhausted', grpc(8, 'RESOURCE_EXHAUSTED: Quota exceeded'), 'transient'],
  ['a failed precondition on the payload', grpc(9, 'FAILED_PRECONDITION: the index is missing'), 'permanent'],
  ['a transaction lock timeout', grpc(9, 'FAILED_PRECONDITION: Transaction lock timeout'), 'transient'],
  ['Firestore unavailable', grpc(14, 'UNAVAILABLE: No connection established'), 'transient'],
  ['a deadline', grpc(4, 'DEADLINE_EXCEEDED'), 'transient'],
  ['contention', grpc(10, 'ABORTED: Too much contention'), 'transient'],
  ['a stack overflow while serialising', new RangeError('Maximum call stack size exceeded'), 'permanent'],
  ['a file name too long', errno('ENAMETOOLONG'), 'permanent'],
  ['a reset connection', errno('ECONNRESET'), 'transient'],
  ['storage throttling', http(429), 'transient'],
  ['storage 503', http(503), 'transient'],
  ['storage refusing the object name', http(400), 'permanent'],
  ['storage 403', http(403), 'unknown'],
  ['anything else', new Error('something odd'), 'unknown'],
])('%s → %s', (_name, err, kind) => {
  expect(classifyFailure(err).kind).toBe(kind);
});

it('spends a budget per message, and forgets a message that succeeded', () => {
  const budget = createRetryBudget(3);
  expect([budget.spend('m1'), budget.spend('m1'), budget.spend('m2'), budget.spend('m1')]).toEqual([
    false,
    false,
    false,
    true,
  ]);
  budget.forget('m2');
  expect([budget.spend('m2'), budget.spend('m2')]).toEqual([false, false]);
});
