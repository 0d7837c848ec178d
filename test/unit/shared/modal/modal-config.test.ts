/** The configure step's pure rules. */
import { APP_NAME, appState, modalSecretCommand, parseModalApps } from '../../../../shared/modal/modal-config';

it('parses MODAL_APPS with optional control URLs, MODAL_CONTROL_URL serving the rest', () => {
  expect(parseModalApps(' a , b=https://b.example ,', 'https://default.example')).toEqual([
    { name: 'a', controlUrl: 'https://default.example' },
    { name: 'b', controlUrl: 'https://b.example' },
  ]);
  expect(parseModalApps('a')).toEqual([{ name: 'a' }]);
});

it('builds the exact modal command, reading the secret when it runs unless asked to show it', () => {
  expect(
    modalSecretCommand('app1', 'https://w.example/api', {
      secretReadCommand: 'gcloud secrets versions access 3 --secret=s',
    }),
  ).toBe(
    `modal secret create omtx-webhooks-app1 MODAL_WEBHOOK_SECRET="$(gcloud secrets versions access 3 --secret=s)" OMTX_WEBHOOK_URL=https://w.example/api OMTX_APP_NAME=app1 OMTX_SIGNATURE_SCHEME=standard --force`,
  );
  // A value a shell would read otherwise is quoted whole.
  expect(modalSecretCommand('app1', "https://w.example/a b'$(x)", { secretReadCommand: 'printenv S' })).toContain(
    `'OMTX_WEBHOOK_URL=https://w.example/a b'\\''$(x)'`,
  );
  expect(modalSecretCommand('app1', 'u', { secret: "it's" })).toContain(`MODAL_WEBHOOK_SECRET='it'\\''s'`);
});

const since = new Date('2026-11-28T12:00:00Z');
const later = new Date('2026-11-28T12:00:05Z');
it.each([
  [
    'a fresh verification with the current secret',
    { verified: { at: later, signedWith: 'current' as const } },
    'configured',
  ],
  [
    'a fresh verification with the previous secret',
    { verified: { at: later, signedWith: 'previous' as const } },
    'failing',
  ],
  [
    'only an old verification, no control endpoint',
    { verified: { at: new Date(0), signedWith: 'current' as const }, test: { kind: 'no_control' as const } },
    'waiting',
  ],
  ['an unreachable control endpoint', { test: { kind: 'unreachable' as const, error: 'ECONNREFUSED' } }, 'failing'],
  ['a control endpoint that refuses our signature', { test: { kind: 'refused' as const, status: 401 } }, 'failing'],
  [
    'a test delivery the webhook refused',
    { test: { kind: 'delivered' as const, webhookStatus: 401, webhookError: 'bad_signature' } },
    'failing',
  ],
  [
    'a test delivery accepted, not yet recorded',
    { test: { kind: 'delivered' as const, webhookStatus: 202 } },
    'waiting',
  ],
])('%s → %s', (_n, input, state) => {
  expect(appState({ since, ...input }).state).toBe(state);
});

it('names the cause of a failure', () => {
  expect(appState({ since, test: { kind: 'delivered', webhookStatus: 401, webhookError: 'bad_signature' } })).toEqual({
    state: 'failing',
    reason: "the app's test delivery got 401 bad_signature: wrong secret",
  });
  expect(appState({ since, test: { kind: 'refused', status: 401 } })).toEqual({
    state: 'failing',
    reason: 'wrong secret: the app refused our signed request (401)',
  });
});

it.each([
  ['app-1', true],
  ['boltz2.v2_prod', true],
  ['a;b', false],
  ['$(id)', false],
  ['-rf', false],
  ['a'.repeat(51), false],
  ['', false],
])('app name %j is valid: %s', (name, ok) => {
  expect(APP_NAME.test(name)).toBe(ok);
});
