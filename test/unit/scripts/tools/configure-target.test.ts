/** configure-modal's target: found from flags, Terraform's outputs or the local stack; never from the admin's answer. */
import {
  mismatches,
  resolveTarget,
  secureUrl,
  TargetError,
  type TerraformOutputs,
} from '../../../../scripts/tools/configure-target';
import type { LocalState } from '../../../../scripts/local/local-state';

const local: LocalState = {
  pid: 1,
  projectId: 'demo',
  startedAt: '',
  env: {},
  webhookUrl: 'http://127.0.0.1:8080/api/v3/webhooks/modal/completion',
  adminUrl: 'http://localhost:8082',
  completionsTopic: 't',
  deadLetterSubscription: 'd',
  secretFrom: 'file:/work/.data/secret',
};
const outputs: TerraformOutputs = {
  admin_url: 'https://omtx-admin-abc-uc.a.run.app/api/v3/webhooks/status',
  webhook_completion_url: 'https://omtx-webhook-abc-uc.a.run.app/api/v3/webhooks/modal/completion',
  project_id: 'omtx-prod-1',
  secret_id: 'omtx-webhook-secret',
  secret_version: '4',
};
const sources = (state?: LocalState) => ({ terraform: () => outputs, local: () => state });

it('takes the running npm start by default', () => {
  expect(resolveTarget({}, sources(local))).toEqual({
    adminUrl: 'http://localhost:8082',
    webhookUrl: local.webhookUrl,
    secret: { kind: 'file', path: '/work/.data/secret' },
    from: 'the running npm start',
  });
});

it("takes a deployed project's Terraform outputs, the secret read from Secret Manager", () => {
  expect(resolveTarget({ terraformDir: 'terraform' }, sources(local))).toEqual({
    adminUrl: 'https://omtx-admin-abc-uc.a.run.app',
    webhookUrl: outputs.webhook_completion_url,
    secret: { kind: 'gcloud', project: 'omtx-prod-1', secret: 'omtx-webhook-secret', version: '4' },
    from: 'Terraform outputs of terraform',
  });
});

it('lets flags override, and says nothing can be configured without a source', () => {
  const target = resolveTarget({ secretFrom: 'env:S' }, sources(local));
  expect(target).toMatchObject({ secret: { kind: 'env', name: 'S' }, from: 'the running npm start and flags' });
  expect(() => resolveTarget({}, sources())).toThrow(/start `npm start`.*--terraform DIR/);
  expect(() => resolveTarget({ secretFrom: 'printenv HOME' }, sources(local))).toThrow(TargetError);
});

it.each([
  ['http://10.0.0.5:8082', false],
  ['http://admin.example.com', false],
  ['ftp://admin.example.com', false],
  ['https://admin.example.com', true],
  ['http://127.0.0.1:8082', true],
  ['http://127.8.0.1:8082', true],
  ['http://localhost:8082', true],
  ['http://[::1]:8082', true],
  ['not a url', false],
])('sends a token or a secret only to https or this machine: %s → %s', (url, ok) => {
  if (ok) expect(secureUrl('the admin API', url)).toBe(new URL(url).toString().replace(/\/$/, ''));
  else expect(() => secureUrl('the admin API', url)).toThrow(TargetError);
});

it('refuses an http admin or webhook URL on another machine, naming it', () => {
  expect(() => resolveTarget({ adminUrl: 'http://10.0.0.5:8082' }, sources(local))).toThrow(
    /the admin API must be https .* not "http:\/\/10\.0\.0\.5:8082"/,
  );
  expect(() =>
    resolveTarget({ webhookUrl: 'http://hooks.example.com/api/v3/webhooks/modal/completion' }, sources(local)),
  ).toThrow(/the webhook URL must be https/);
});

it('names every disagreement with the admin API, and none when it agrees', () => {
  const target = resolveTarget({}, sources(local));
  expect(
    mismatches(target, { webhook_url: local.webhookUrl, secret_read_command: "cat '/work/.data/secret'" }),
  ).toEqual([]);
  expect(
    mismatches(target, { webhook_url: 'https://evil.example/hook', secret_read_command: 'printenv HOME' }),
  ).toEqual([
    `the admin API reports webhook_url "https://evil.example/hook", not "${local.webhookUrl}"`,
    `the admin API reports secret_read_command "printenv HOME", not "cat '/work/.data/secret'"`,
  ]);
});
