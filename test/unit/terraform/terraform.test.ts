/**
 * Security and wiring properties of terraform/, read with the same HCL parser tfcheck uses.
 * `terraform validate` cannot run here (no provider downloads); tfcheck and `terraform fmt` run at
 * the end of this file when their tools are on the machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { ADMIN_ENV_VARS, RECONCILER_ENV_VARS, WEBHOOK_ENV_VARS, WORKER_ENV_VARS } from '../../../shared/config';

const dir = join(__dirname, '..', '..', '..', 'terraform');
type Block = Record<string, any>;
let resources: Record<string, Record<string, Block>> = {};
let variables: Record<string, Block> = {};
let locals: Block = {};
let source = '';

beforeAll(async () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.tf'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    source += text;
    const json = (await parse(file, text)) as Block;
    for (const [type, byName] of Object.entries<Block>(json.resource ?? {})) {
      resources[type] ??= {};
      for (const [name, blocks] of Object.entries<Block[]>(byName)) resources[type][name] = blocks[0]!;
    }
    for (const [name, blocks] of Object.entries<Block[]>(json.variable ?? {})) variables[name] = blocks[0]!;
    for (const l of json.locals ?? []) locals = { ...locals, ...l };
  }
});

const all = (type: string) => Object.entries(resources[type] ?? {});
const iamTypes = () => Object.keys(resources).filter((t) => /_iam_(member|binding|policy)$/.test(t));

it('makes only the webhook public', () => {
  const publicGrants = iamTypes().flatMap((type) =>
    all(type).filter(([, r]) => /allUsers|allAuthenticatedUsers/.test(JSON.stringify(r))).map(([name, r]) => ({ type, name, r })));
  expect(publicGrants.map((g) => `${g.type}.${g.name}`)).toEqual(['google_cloud_run_service_iam_member.webhook_public']);
  expect(publicGrants[0]!.r).toMatchObject({ role: 'roles/run.invoker', service: '${google_cloudfunctions2_function.webhook.service_config[0].service}' });
});

it('gives the secret accessor role only to the accounts that sign or verify: webhook, admin, reconciler', () => {
  const accessors = iamTypes().flatMap((type) => all(type).filter(([, r]) => r.role === 'roles/secretmanager.secretAccessor').map(([, r]) => r.member));
  expect(accessors.sort()).toEqual(['${google_service_account.admin.member}', '${google_service_account.reconciler.member}', '${google_service_account.webhook.member}']);
  expect(JSON.stringify(resources.google_cloudfunctions2_function!.worker)).not.toContain('MODAL_WEBHOOK_SECRET');
});

it('keeps the admin API private: invokers only from admin.invokers, never public', () => {
  const admin = resources.google_cloud_run_service_iam_member!.admin_invokers!;
  expect(admin).toMatchObject({ member: '${each.value}', service: '${google_cloudfunctions2_function.admin.service_config[0].service}' });
  expect(JSON.stringify(variables.admin!.validation)).toContain('allUsers');
});

it('runs the reconciler from Cloud Scheduler through Pub/Sub', () => {
  const job = resources.google_cloud_scheduler_job!.reconcile!;
  expect(job.pubsub_target[0].topic_name).toBe('${google_pubsub_topic.reconcile_ticks.id}');
  const trigger = resources.google_cloudfunctions2_function!.reconciler!.event_trigger[0];
  expect(trigger).toMatchObject({ pubsub_topic: '${google_pubsub_topic.reconcile_ticks.id}', event_type: 'google.cloud.pubsub.topic.v1.messagePublished' });
});

it('grants no basic roles and few project-wide roles', () => {
  const roles = iamTypes().flatMap((type) => all(type).map(([, r]) => r.role as string));
  expect(roles.filter((r) => ['roles/owner', 'roles/editor', 'roles/viewer'].includes(r))).toEqual([]);
  const projectWide = all('google_project_iam_member').map(([, r]) => `${r.role} → ${r.member}`);
  expect(projectWide.sort()).toEqual([
    'roles/cloudbuild.builds.builder → ${google_service_account.build.member}',
    'roles/datastore.user → ${google_service_account.admin.member}',
    'roles/datastore.user → ${google_service_account.reconciler.member}',
    'roles/datastore.user → ${google_service_account.worker.member}',
  ]);
});

it('has one service account per role', () => {
  expect(all('google_service_account').map(([name]) => name).sort()).toEqual(['admin', 'build', 'push_invoker', 'reconciler', 'webhook', 'worker']);
});

it('feeds the worker from a push subscription with OIDC, retries and a dead-letter topic that has a subscription', () => {
  const [, push] = all('google_pubsub_subscription').find(([, s]) => s.push_config)!;
  expect(push.push_config[0].push_endpoint).toContain('google_cloudfunctions2_function.worker.service_config[0].uri');
  expect(push.push_config[0].push_endpoint).toMatch(/\/projects\/.*\/topics\//);
  expect(push.push_config[0].oidc_token[0].service_account_email).toBe('${google_service_account.push_invoker.email}');
  expect(push.retry_policy[0]).toMatchObject({ minimum_backoff: expect.any(String), maximum_backoff: expect.any(String) });
  const deadLetterTopic = push.dead_letter_policy[0].dead_letter_topic as string;
  const topicRef = /google_pubsub_topic\.(\w+)\.id/.exec(deadLetterTopic)![1];
  const holders = all('google_pubsub_subscription').filter(([, s]) => s.topic === `\${google_pubsub_topic.${topicRef}.id}`);
  expect(holders.length).toBeGreaterThanOrEqual(1);
  expect(push.ack_deadline_seconds).toContain('var.worker.timeout_seconds');
});

it('lets the Pub/Sub service agent publish dead letters, subscribe to the source and mint push tokens', () => {
  const agentGrants = iamTypes().flatMap((type) => all(type).filter(([, r]) => r.member === '${local.pubsub_service_agent}').map(([, r]) => `${type}:${r.role}`));
  expect(agentGrants.sort()).toEqual([
    'google_pubsub_subscription_iam_member:roles/pubsub.subscriber',
    'google_pubsub_topic_iam_member:roles/pubsub.publisher',
    'google_service_account_iam_member:roles/iam.serviceAccountTokenCreator',
  ]);
  expect(locals.pubsub_service_agent).toMatch(/service-\$\{data\.google_project\.this\.number\}@gcp-sa-pubsub\.iam\.gserviceaccount\.com/);
});

it('deploys the entry points the code registers, on nodejs22, each with its own account', () => {
  const index = readFileSync(join(dir, '..', 'functions', 'index.ts'), 'utf8');
  const functions = Object.fromEntries(all('google_cloudfunctions2_function'));
  expect(functions.webhook!.build_config[0]).toMatchObject({ entry_point: 'modalWebhook', runtime: 'nodejs22' });
  expect(functions.worker!.build_config[0]).toMatchObject({ entry_point: 'processCompletion', runtime: 'nodejs22' });
  expect(index).toContain("functions.http('modalWebhook'");
  expect(index).toContain("functions.cloudEvent('processCompletion'");
  expect(functions.admin!.build_config[0]).toMatchObject({ entry_point: 'webhookAdmin', runtime: 'nodejs22' });
  expect(functions.reconciler!.build_config[0]).toMatchObject({ entry_point: 'reconcileExecutions', runtime: 'nodejs22' });
  expect(index).toContain("functions.http('webhookAdmin'");
  expect(index).toContain("functions.cloudEvent('reconcileExecutions'");
  for (const name of ['webhook', 'worker', 'admin', 'reconciler']) {
    expect(functions[name]!.service_config[0].service_account_email).toBe(`\${google_service_account.${name}.email}`);
  }
});

it('sets only environment variables that the functions read, and mounts the secret from Secret Manager', () => {
  const functions = Object.fromEntries(all('google_cloudfunctions2_function'));
  const names = (expr: string) => [...expr.matchAll(/([A-Z][A-Z0-9_]+)\s*=/g)].map((m) => m[1]!);
  const common = Object.keys(locals.common_environment);
  const webhookEnv = [...common, ...names(functions.webhook!.service_config[0].environment_variables)];
  const workerEnv = [...common, ...names(functions.worker!.service_config[0].environment_variables)];
  expect(webhookEnv.filter((v) => !WEBHOOK_ENV_VARS.includes(v))).toEqual([]);
  expect(workerEnv.filter((v) => !WORKER_ENV_VARS.includes(v))).toEqual([]);
  const adminEnv = [...common, ...names(functions.admin!.service_config[0].environment_variables)];
  const reconcilerEnv = [...common, ...names(functions.reconciler!.service_config[0].environment_variables)];
  expect(adminEnv.filter((v) => !ADMIN_ENV_VARS.includes(v))).toEqual([]);
  expect(reconcilerEnv.filter((v) => !RECONCILER_ENV_VARS.includes(v))).toEqual([]);
  expect(adminEnv).toEqual(expect.arrayContaining(['WEBHOOK_URL', 'MODAL_CONTROL_URL', 'MODAL_APPS']));
  expect(reconcilerEnv).toEqual(expect.arrayContaining(['COMPLETION_MODE', 'STALE_AFTER_SECONDS', 'MODAL_STATUS_URL']));
  expect(webhookEnv).toEqual(expect.arrayContaining(['COMPLETIONS_TOPIC', 'RESULTS_BUCKET']));
  expect(workerEnv).toEqual(expect.arrayContaining(['BATCH_EVENTS_TOPIC', 'RESULTS_BUCKET']));
  const secretEnv = functions.webhook!.service_config[0].secret_environment_variables[0];
  expect(secretEnv).toMatchObject({ key: 'MODAL_WEBHOOK_SECRET', secret: '${google_secret_manager_secret.webhook.secret_id}' });
  expect(JSON.stringify(functions.webhook!.service_config[0].dynamic)).toContain('MODAL_WEBHOOK_SECRET_PREVIOUS');
  expect(WEBHOOK_ENV_VARS).toContain('MODAL_WEBHOOK_SECRET_PREVIOUS');
});

it('never puts a secret value in state: only a write-only first version', () => {
  const versions = all('google_secret_manager_secret_version');
  for (const [, v] of versions) {
    expect(v.secret_data).toBeUndefined();
    expect(v.secret_data_wo).toMatch(/^\$\{ephemeral\./);
  }
  expect(source).not.toMatch(/resource\s+"random_password"/);
});

it('keeps the results bucket private, uniform, and expires claim checks', () => {
  const results = resources.google_storage_bucket!.results!;
  expect(results).toMatchObject({ uniform_bucket_level_access: true, public_access_prevention: 'enforced' });
  expect(results.lifecycle_rule[0].condition[0].matches_prefix).toEqual(['claims/']);
});

it('names the source object by the archive hash', () => {
  expect(resources.google_storage_bucket_object!.source!.name).toContain('data.archive_file.source.output_md5');
});

it('enables APIs without disabling them on destroy', () => {
  expect(resources.google_project_service!.apis).toMatchObject({ disable_on_destroy: false });
  for (const api of ['cloudscheduler', 'cloudfunctions', 'run', 'cloudbuild', 'artifactregistry', 'eventarc', 'pubsub', 'secretmanager', 'storage', 'firestore', 'logging', 'monitoring', 'iam']) {
    expect(locals.apis).toContain(`${api}.googleapis.com`);
  }
});

it('gives every variable a type and a description, sorted by name', () => {
  for (const [name, v] of Object.entries(variables)) {
    expect([name, typeof v.type]).toEqual([name, 'string']);
    expect([name, typeof v.description]).toEqual([name, 'string']);
  }
  const names = readFileSync(join(dir, 'variables.tf'), 'utf8').match(/^variable "([^"]+)"/gm)!;
  expect(names).toEqual([...names].sort());
});

it('alerts on dead letters, backlog age, webhook 5xx, rejection spikes and worker errors, and has a dashboard', () => {
  const alerts = all('google_monitoring_alert_policy').map(([name]) => name).sort();
  expect(alerts).toEqual(['backlog_age', 'dead_letters', 'signature_rejections', 'webhook_5xx', 'worker_errors']);
  for (const [, a] of all('google_monitoring_alert_policy')) expect(a.notification_channels).toBe('${var.notification_channels}');
  expect(all('google_monitoring_dashboard')).toHaveLength(1);
});

const hasTerraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasTerraform) process.stdout.write('skipping terraform fmt -check: terraform is not installed on this machine\n');
(hasTerraform ? it : it.skip)('passes terraform fmt -check', () => {
  expect(() => execFileSync('terraform', ['fmt', '-check', '-recursive', dir], { stdio: 'pipe' })).not.toThrow();
});

const tfcheck = join(dir, '..', '..', 'shared', 'tools', 'tfcheck', 'tfcheck.mjs');
if (!existsSync(tfcheck)) process.stdout.write(`skipping tfcheck: ${tfcheck} is not on this machine\n`);
(existsSync(tfcheck) ? it : it.skip)('passes tfcheck against the google provider schema', () => {
  const result = spawnSync(process.execPath, [tfcheck, 'terraform'], { cwd: join(dir, '..'), encoding: 'utf8', timeout: 60_000 });
  expect(`${result.stdout}${result.stderr}`).toMatch(/clean/);
  expect(result.status).toBe(0);
});
