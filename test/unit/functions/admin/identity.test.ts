import { operatorOf } from '../../../../functions/admin/identity';

const jwt = (claims: Record<string, unknown>) =>
  `Bearer e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const req = (headers: Record<string, string>) => ({ get: (name: string) => headers[name.toLowerCase()] }) as never;

describe('operatorOf: the identity comes from the token the platform verified', () => {
  it.each([
    [
      'deployed, Authorization verified by Cloud Run',
      { authorization: jwt({ email: 'oncall@omtx.example' }) },
      true,
      'oncall@omtx.example',
    ],
    [
      'deployed, X-Serverless-Authorization verified (Authorization then unverified)',
      {
        'x-serverless-authorization': jwt({ email: 'real@omtx.example' }),
        authorization: jwt({ email: 'forged@evil.example' }),
      },
      true,
      'real@omtx.example',
    ],
    ['deployed, only X-Operator', { 'x-operator': 'someone@evil.example' }, true, undefined],
    ['deployed, nothing', {}, true, undefined],
    ['local, X-Operator', { 'x-operator': 'dev@omtx.example' }, false, 'dev@omtx.example'],
    ['local, nothing', {}, false, 'local'],
  ])('%s', (_name, headers, deployed, expected) => {
    expect(operatorOf(req(headers), deployed)).toBe(expected);
  });
});
