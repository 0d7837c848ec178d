/**
 * The Functions Framework parses `application/json` bodies before any function code runs. A body
 * that is not JSON is answered 400 by Express, which then prints the whole error object, request
 * body included, to stderr. That would put unsigned, untrusted bytes into Cloud Logging.
 *
 * This filter replaces those prints with one structured `requestRejected` line that carries the
 * reason and size, never the body. Everything else reaches console.error unchanged.
 */
import type { Logger } from '../observability/log';

interface BodyParserError {
  type: string;
  status?: number;
  body?: unknown;
  length?: number;
}

const CODES: Record<string, string> = {
  'entity.parse.failed': 'invalid_json',
  'entity.too.large': 'payload_too_large',
  'entity.verify.failed': 'invalid_body',
  'encoding.unsupported': 'invalid_body',
  'charset.unsupported': 'invalid_body',
  'request.aborted': 'request_aborted',
  'request.size.invalid': 'invalid_body',
};

export function isBodyParserError(value: unknown): value is BodyParserError {
  if (!(value instanceof Error)) return false;
  const type: unknown = (value as Error & { type?: unknown }).type;
  return typeof type === 'string' && type in CODES;
}

export function filterBodyParserErrors(target: Pick<Console, 'error'>, logger: Logger): void {
  const original = target.error.bind(target);
  target.error = (...args: unknown[]) => {
    const [first] = args;
    if (!isBodyParserError(first)) {
      original(...args);
      return;
    }
    logger.log('WARNING', 'requestRejected', `request body rejected by the body parser (${first.type})`, {
      code: CODES[first.type],
      status: first.status ?? 400,
      bytes: typeof first.body === 'string' ? Buffer.byteLength(first.body) : first.length,
    });
  };
}
