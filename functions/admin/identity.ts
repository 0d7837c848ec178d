/**
 * Who is calling the admin API: the identity the platform verified, for the operator fields of
 * manual completions and configure's log line.
 */
import type { Request } from '@google-cloud/functions-framework';

/**
 * Who is calling, from a token the platform verified, or undefined. Cloud Run's IAM check verifies
 * `X-Serverless-Authorization` when it is sent, and then passes `Authorization` through unverified;
 * otherwise it verifies `Authorization`. So the identity is read from the header that was verified,
 * and a deployed admin never takes a name from `X-Operator`. Locally (nothing verifies anything):
 * the token's or `X-Operator`'s name, else "local".
 */
export function operatorOf(req: Pick<Request, 'get'>, deployed = false): string | undefined {
  const verified = req.get('x-serverless-authorization') ?? req.get('authorization') ?? '';
  const fromToken = claimsName(verified);
  if (fromToken || deployed) return fromToken;
  const named = req.get('x-operator')?.trim();
  return named ? named.slice(0, 320) : 'local';
}

function claimsName(header: string): string | undefined {
  const bearer = /^Bearer\s+([^.]+)\.([^.]+)\./.exec(header);
  if (bearer) {
    try {
      const claims = JSON.parse(Buffer.from(bearer[2]!, 'base64url').toString('utf8')) as {
        email?: unknown;
        sub?: unknown;
      };
      if (typeof claims.email === 'string') return claims.email;
      if (typeof claims.sub === 'string') return `sub:${claims.sub}`;
    } catch {
      // not a JWT: fall through
    }
  }
  return undefined;
}
