import { filterBodyParserErrors } from '../../../../shared/framework/framework-errors';
import { memoryLogger } from '../../../../shared/observability/log';

function parseError(body: string): Error {
  return Object.assign(new SyntaxError('Unexpected end of JSON input'), {
    type: 'entity.parse.failed',
    status: 400,
    body,
    expose: true,
  });
}

describe('filterBodyParserErrors', () => {
  it('replaces the framework print of a malformed body with a reason and size, without the body', () => {
    const printed: unknown[][] = [];
    const target = { error: (...args: unknown[]) => void printed.push(args) };
    const logger = memoryLogger();
    filterBodyParserErrors(target, logger);
    target.error(parseError('{"call_id":"call-secret-payload",'));
    expect(printed).toEqual([]);
    expect(logger.lines).toEqual([
      expect.objectContaining({
        severity: 'WARNING',
        event: 'requestRejected',
        code: 'invalid_json',
        status: 400,
        bytes: 33,
      }),
    ]);
    expect(JSON.stringify(logger.lines)).not.toContain('call-secret-payload');
  });

  it('passes every other error through unchanged', () => {
    const printed: unknown[][] = [];
    const target = { error: (...args: unknown[]) => void printed.push(args) };
    filterBodyParserErrors(target, memoryLogger());
    const other = new Error('boom');
    target.error('context', other);
    target.error(other);
    expect(printed).toEqual([['context', other], [other]]);
  });
});
