/**
 * Security, wiring and apply-time properties of terraform/, read with the same HCL parser tfcheck
 * uses. `terraform validate` cannot run here (no provider downloads); tfcheck (schema + offline plan,
 * with the example var file and one that turns on every branch) and `terraform fmt` run at the end
 * of this file when their tools are on the machine, and say so when they are not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { RANKING_INDEX } from '../../../shared/adapters/firestore-batches';
import { ADMIN_ENV_VARS, RECONCILER_ENV_VARS, WEBHOOK_ENV_VARS, WORKER_ENV_VARS } from '../../../shared/config/config';

const dir = join(__dirname, '..', '..', '..', 'terraform');
type Block = Record<string, any>;
const moduleDir = join(dir, 'modules', 'cloud-function');
const resources: Record<string, Record<string, Block>> = {};
const variables: Record<string, Block> = {};
const modules: Record<string, Block> = {};
let locals: Block = {};
let source = '';
let fnModule: Block = {};
const fnVariables: Record<string, Block> = {};

beforeAll(async () => {
  const moduleMain = (await parse('main.tf', readFileSync(join(moduleDir, 'main.tf'), 'utf8'))) as Block;
  fnModule = moduleMain.resource.google_cloudfunctions2_function.this[0];
  const moduleVars = (await parse('variables.tf', readFileSync(join(moduleDir, 'variables.tf'), 'utf8'))) as Block;
  for (const [name, blocks] of Object.entries<Block[]>(moduleVars.variable)) fnVariables[name] = blocks[0]!;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.tf'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    source += text;
    const json = (await parse(file, text)) as Block;
    for (const [type, byName] of Object.entries<Block>(json.resource ?? {})) {
      resources[type] ??= {};
      for (const [name, blocks] of Object.entries<Block[]>(byName)) resources[type][name] = blocks[0]!;
    }
    for (const [name, blocks] of Object.entries<Block[]>(json.variable ?? {})) variables[name] = blocks[0]!;
    for (const [name, blocks] of Object.entries<Block[]>(json.module ?? {})) modules[name] = blocks[0]!;
    for (const l of json.locals ?? []) locals = { ...locals, ...l };
  }
});

const all = (type: string) => Object.entries(resources[type] ?? {});
const FUNCTIONS = ['webhook', 'worker', 'admin', 'reconciler'];

/** A literal, or the `optional(type, default)` default of the variable attribute it names. */
function resolve(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const ref = /^\$\{var\.(\w+)\.(\w+)\}$/.exec(value);
  if (!ref) return value;
  const type = String(variables[ref[1]!]!.type);
  const found = new RegExp(`\\b${ref[2]}\\s*=\\s*optional\\(\\w+,\\s*"?([^")]*)"?\\)`).exec(type);
  if (!found) throw new Error(`no default for var.${ref[1]}.${ref[2]}`);
  return found[1];
}
const iamTypes = () => Object.keys(resources).filter((t) => /_iam_(member|binding|policy)$/.test(t));

it('makes only the webhook public', () => {
  const publicGrants = iamTypes().flatMap((type) =>
    all(type)
      .filter(([, r]) => /allUsers|allAuthenticatedUsers/.test(JSON.stringify(r)))
      .map(([name, r]) => ({ type, name, r })),
  );
  expect(publicGrants.map((g) => `${g.type}.${g.name}`)).toEqual([
    'google_cloud_run_service_iam_member.webhook_public',
  ]);
  expect(publicGrants[0]!.r).toMatchObject({ role: 'roles/run.invoker', service: '${module.webhook.service}' });
});

it('gives the secret accessor role only to the accounts that sign or verify: webhook, admin, reconciler', () => {
  const accessors = iamTypes().flatMap((type) =>
    all(type)
      .filter(([, r]) => r.role === 'roles/secretmanager.secretAccessor')
      .map(([, r]) => r.member),
  );
  expect(accessors.sort()).toEqual([
    '${google_service_account.admin.member}',
    '${google_service_account.reconciler.member}',
    '${google_service_account.webhook.member}',
  ]);
  expect(modules.worker!.secrets).toBeUndefined();
});

it('keeps the admin API private: invokers only from admin.invokers, never public', () => {
  const admin = resources.google_cloud_run_service_iam_member!.admin_invokers!;
  expect(admin).toMatchObject({ member: '${each.value}', service: '${module.admin.service}' });
  expect(JSON.stringify(variables.admin!.validation)).toContain('allUsers');
});

it('runs the reconciler from Cloud Scheduler through a Pub/Sub push subscription, with no Eventarc trigger to wait for', () => {
  const job = resources.google_cloud_scheduler_job!.reconcile!;
  expect(job.pubsub_target[0].topic_name).toBe('${google_pubsub_topic.reconcile_ticks.id}');
  const push = resources.google_pubsub_subscription!.reconcile_push!;
  expect(push.topic).toBe('${google_pubsub_topic.reconcile_ticks.id}');
  expect(push.push_config[0].push_endpoint).toContain('${module.reconciler.uri}/projects/');
  expect(push.push_config[0].oidc_token[0].service_account_email).toBe('${google_service_account.push_invoker.email}');
  expect(push.depends_on).toContain('${google_cloud_run_service_iam_member.reconciler_push_invoker}');
  expect(source).not.toMatch(/event_trigger|google_eventarc_trigger/);
  expect(locals.apis).not.toContain('eventarc.googleapis.com');
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
  expect(
    all('google_service_account')
      .map(([name]) => name)
      .sort(),
  ).toEqual(['admin', 'build', 'push_invoker', 'reconciler', 'webhook', 'worker']);
});

it('feeds the worker from a push subscription with OIDC, retries and a dead-letter topic that has a subscription', () => {
  const push = resources.google_pubsub_subscription!.worker_push!;
  expect(push.push_config[0].push_endpoint).toContain('${module.worker.uri}');
  expect(push.push_config[0].push_endpoint).toMatch(/\/projects\/.*\/topics\//);
  expect(push.push_config[0].oidc_token[0].service_account_email).toBe('${google_service_account.push_invoker.email}');
  expect(push.retry_policy[0]).toMatchObject({
    minimum_backoff: expect.any(String),
    maximum_backoff: expect.any(String),
  });
  const deadLetterTopic = push.dead_letter_policy[0].dead_letter_topic as string;
  const topicRef = /google_pubsub_topic\.(\w+)\.id/.exec(deadLetterTopic)![1];
  const holders = all('google_pubsub_subscription').filter(
    ([, s]) => s.topic === `\${google_pubsub_topic.${topicRef}.id}`,
  );
  expect(holders.length).toBeGreaterThanOrEqual(1);
  expect(push.ack_deadline_seconds).toContain('var.worker.timeout_seconds');
});

it('lets the Pub/Sub service agent publish dead letters, subscribe to the source and mint push tokens', () => {
  const agentGrants = iamTypes().flatMap((type) =>
    all(type)
      .filter(([, r]) => r.member === '${local.pubsub_service_agent}')
      .map(([, r]) => `${type}:${r.role}`),
  );
  expect(agentGrants.sort()).toEqual([
    'google_pubsub_subscription_iam_member:roles/pubsub.subscriber',
    'google_pubsub_topic_iam_member:roles/pubsub.publisher',
    'google_service_account_iam_member:roles/iam.serviceAccountTokenCreator',
  ]);
  expect(locals.pubsub_service_agent).toMatch(
    /service-\$\{data\.google_project\.this\.number\}@gcp-sa-pubsub\.iam\.gserviceaccount\.com/,
  );
});

it('deploys the four functions through one module, with the entry points the code registers, on nodejs22, each with its own account', () => {
  const index = readFileSync(join(dir, '..', 'functions', 'index.ts'), 'utf8');
  expect(all('google_cloudfunctions2_function')).toEqual([]);
  expect(fnModule.build_config[0]).toMatchObject({ runtime: 'nodejs22', entry_point: '${var.entry_point}' });
  const entryPoints = {
    webhook: 'modalWebhook',
    worker: 'processCompletion',
    admin: 'webhookAdmin',
    reconciler: 'reconcileExecutions',
  };
  expect(Object.keys(modules).sort()).toEqual([...FUNCTIONS].sort());
  for (const [name, entry] of Object.entries(entryPoints)) {
    expect(modules[name]).toMatchObject({
      source: './modules/cloud-function',
      entry_point: entry,
      service_account_email: `\${google_service_account.${name}.email}`,
    });
    expect(index).toMatch(new RegExp(`functions\\.(http|cloudEvent)\\('${entry}'`));
  }
});

it('sizes every function as Cloud Run accepts it: at least 1 vCPU wherever concurrency is above 1', () => {
  for (const name of FUNCTIONS) {
    const sizing = modules[name]!.sizing as Block;
    const cpu = Number(resolve(sizing.cpu));
    const concurrency = Number(resolve(sizing.concurrency));
    expect([name, Number.isFinite(cpu), Number.isFinite(concurrency)]).toEqual([name, true, true]);
    if (concurrency > 1) {
      expect([name, cpu]).toEqual([name, expect.any(Number)]);
      expect(cpu).toBeGreaterThanOrEqual(1);
    }
  }
  // The module refuses a combination Cloud Run rejects, whoever calls it.
  expect(JSON.stringify(fnVariables.sizing!.validation)).toContain(
    'Total cpu < 1 is not supported with concurrency > 1',
  );
});

it('lets only Pub/Sub push reach the worker and the reconciler (internal-only ingress)', () => {
  expect(modules.worker!.ingress).toBe('ALLOW_INTERNAL_ONLY');
  expect(modules.reconciler!.ingress).toBe('ALLOW_INTERNAL_ONLY');
  expect(modules.webhook!.ingress).toBe('ALLOW_ALL');
  expect(fnModule.service_config[0].ingress_settings).toBe('${var.ingress}');
});

it('pins the secret version: no "latest" default, the generated first version unless one is named', () => {
  expect(String(variables.webhook_secret!.type)).toMatch(/version\s*=\s*optional\(string\)/);
  expect(source).not.toMatch(/optional\(string,\s*"latest"\)/);
  expect(locals.secret_version).toContain('google_secret_manager_secret_version.initial');
  expect(JSON.stringify(fnVariables.secrets!.validation)).toContain('never \\"latest\\"');
  expect(locals.webhook_secrets).toContain('MODAL_WEBHOOK_SECRET_PREVIOUS');
});

it('creates the (default) Firestore database by default, before the indexes and the functions that use it', () => {
  expect(String(variables.firestore!.type)).toMatch(/create\s*=\s*optional\(bool,\s*true\)/);
  for (const [, index] of all('google_firestore_index'))
    expect(index.depends_on).toContain('${google_firestore_database.default}');
  for (const name of ['worker', 'admin', 'reconciler'])
    expect(modules[name]!.depends_on).toContain('${google_firestore_database.default}');
});

it('has the composite index the batch ranking query runs on, in the configured direction', () => {
  const index = resources.google_firestore_index!.jobs_ranking!;
  expect(index.collection).toBe('jobs');
  const fields = (index.fields as Array<{ field_path: string; order: string }>).map((f) => ({
    field: f.field_path,
    order: f.order,
  }));
  for (const direction of ['higher', 'lower'] as const) {
    const chosen = fields.map((f) => ({
      ...f,
      order: f.order.includes('affinity_direction')
        ? f.order.includes(`== "${direction}" ? "DESCENDING"`)
          ? 'DESCENDING'
          : 'ASCENDING'
        : f.order,
    }));
    expect(chosen).toEqual(RANKING_INDEX(direction));
  }
});

it('waits for IAM to propagate before building the functions, and for new APIs before using them', () => {
  const wait = resources.time_sleep!.iam_propagation!;
  const triggers = JSON.stringify(wait.triggers);
  for (const grant of [
    'google_project_iam_member.build',
    'google_storage_bucket_iam_member.build_reads_source',
    'webhook_secret_accessor',
    'admin_secret_accessor',
    'reconciler_secret_accessor',
  ]) {
    expect(triggers).toContain(grant);
  }
  for (const name of FUNCTIONS) expect(modules[name]!.depends_on).toContain('${time_sleep.iam_propagation}');
  expect(resources.time_sleep!.apis_ready!.triggers).toBeDefined();
  expect(source).not.toMatch(/depends_on\s*=\s*\[google_project_service\.apis\]/);
});

it('leaves out dashboard fields the API drops (zero positions, empty groupings), so plans show no drift', () => {
  const dashboard = readFileSync(join(dir, 'dashboard.tf'), 'utf8');
  expect(dashboard).not.toMatch(/xPos\s*=\s*\(i/);
  expect(dashboard).not.toMatch(/groupByFields\s*=\s*tile\.group\s*$/m);
  expect(dashboard).toMatch(/length\(t\.group\) == 0 \? \{\}/);
});

it('gives Cloud Build a committed, secret-free var file with the settings an apply must not reset', async () => {
  const text = readFileSync(join(dir, 'environments', 'production.tfvars'), 'utf8');
  const json = (await parse('production.tfvars', text)) as Block;
  expect(json.project_id).toBeUndefined();
  expect(json).toHaveProperty('admin');
  expect(json).toHaveProperty('notification_channels');
  expect(text).not.toMatch(/secret_data|whsec_|BEGIN PRIVATE KEY/);
});

it('sets only environment variables that the functions read, and mounts the secret from Secret Manager', () => {
  const names = (expr: string) => [...expr.matchAll(/([A-Z][A-Z0-9_]+)\s*=/g)].map((m) => m[1]!);
  const common = Object.keys(locals.common_environment);
  const envOf = (name: string) => [...common, ...names(modules[name]!.environment)];
  const webhookEnv = envOf('webhook');
  const workerEnv = envOf('worker');
  expect(webhookEnv.filter((v) => !WEBHOOK_ENV_VARS.includes(v))).toEqual([]);
  expect(workerEnv.filter((v) => !WORKER_ENV_VARS.includes(v))).toEqual([]);
  const adminEnv = envOf('admin');
  const reconcilerEnv = envOf('reconciler');
  expect(adminEnv.filter((v) => !ADMIN_ENV_VARS.includes(v))).toEqual([]);
  expect(reconcilerEnv.filter((v) => !RECONCILER_ENV_VARS.includes(v))).toEqual([]);
  expect(adminEnv).toEqual(expect.arrayContaining(['WEBHOOK_URL', 'MODAL_CONTROL_URL', 'MODAL_APPS']));
  expect(reconcilerEnv).toEqual(expect.arrayContaining(['COMPLETION_MODE', 'STALE_AFTER_SECONDS', 'MODAL_STATUS_URL']));
  expect(webhookEnv).toEqual(expect.arrayContaining(['COMPLETIONS_TOPIC', 'RESULTS_BUCKET']));
  expect(workerEnv).toEqual(expect.arrayContaining(['BATCH_EVENTS_TOPIC', 'RESULTS_BUCKET']));
  expect(modules.webhook!.secrets).toBe('${local.webhook_secrets}');
  expect(locals.current_secret).toEqual({
    MODAL_WEBHOOK_SECRET: {
      secret: '${google_secret_manager_secret.webhook.secret_id}',
      version: '${local.secret_version}',
    },
  });
  expect(JSON.stringify(fnModule.service_config[0].dynamic)).toContain('secret_environment_variables');
  expect(WEBHOOK_ENV_VARS).toContain('MODAL_WEBHOOK_SECRET_PREVIOUS');
  expect(WEBHOOK_ENV_VARS).toContain('PUBLISH_TIMEOUT_MS');
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
  for (const api of [
    'cloudscheduler',
    'cloudfunctions',
    'run',
    'cloudbuild',
    'artifactregistry',
    'pubsub',
    'secretmanager',
    'storage',
    'firestore',
    'logging',
    'monitoring',
    'iam',
    'cloudresourcemanager',
    'serviceusage',
  ]) {
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

it('alerts on every path: dead letters, backlogs, rejections, worker errors, missing webhooks, polls, health, and SLO burn', () => {
  // The threshold alerts are one resource over local.threshold_alerts: named by its keys.
  expect(resources.google_monitoring_alert_policy!.threshold!.for_each).toBe('${local.threshold_alerts}');
  const alerts = all('google_monitoring_alert_policy')
    .flatMap(([name]) => (name === 'threshold' ? Object.keys(locals.threshold_alerts) : [name]))
    .sort();
  expect(alerts).toEqual([
    'backlog_age',
    'dead_letters',
    'executions_stale',
    'poll_failures',
    'reconcile_backlog',
    'reconciler_silent',
    'signature_rejections',
    'slo_burn',
    'webhook_uptime',
    'worker_errors',
  ]);
  for (const [, a] of all('google_monitoring_alert_policy'))
    expect(a.notification_channels).toBe('${var.notification_channels}');
  expect(all('google_monitoring_dashboard')).toHaveLength(1);
});

it('points every alert at a runbook section that exists', () => {
  const runbook = readFileSync(join(dir, '..', 'docs', 'runbook.md'), 'utf8');
  const anchors = new Set(
    [...runbook.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .trim()
        .replace(/\s+/g, '-'),
    ),
  );
  const text = (a: Block) => JSON.stringify(a.documentation);
  for (const [name, alert] of all('google_monitoring_alert_policy')) {
    const links = [...text(alert).matchAll(/docs\/runbook\.md#([a-z0-9-]+|\$\{[^}]+\})/g)].map((m) => m[1]!);
    expect([name, links.length]).toEqual([name, 1]);
    // The burn alerts name their SLO's section (one per SLO key), the threshold alerts theirs.
    const targets =
      links[0] === '${each.value.runbook}'
        ? Object.values(locals.threshold_alerts as Record<string, { runbook: string }>).map((a) => a.runbook)
        : links[0]!.startsWith('${')
          ? Object.keys(locals.slos).map((k) => k.replace(/_/g, '-'))
          : links;
    for (const t of targets) expect([name, t, anchors.has(t)]).toEqual([name, t, true]);
  }
});

it('defines three SLOs with a fast (page) and a slow (ticket) multi-window burn alert each', () => {
  expect(
    all('google_monitoring_slo')
      .map(([n]) => n)
      .sort(),
  ).toEqual(['batch_completion', 'completion_freshness', 'webhook_availability']);
  expect(Object.keys(locals.slos).sort()).toEqual(['batch_completion', 'completion_freshness', 'webhook_availability']);
  const burn = resources.google_monitoring_alert_policy!.slo_burn!;
  expect(burn.for_each).toBe('${local.slo_alerts}');
  expect(burn.combiner).toBe('AND');
  const windows = (burn.conditions as Block[]).map((c) => c.condition_threshold[0].filter as string);
  expect(windows).toEqual([
    expect.stringContaining('select_slo_burn_rate('),
    expect.stringContaining('select_slo_burn_rate('),
  ]);
  expect(Object.keys(locals.slo_burn_policies).sort()).toEqual(['fast', 'slow']);
  for (const slo of ['completion_freshness', 'batch_completion'])
    expect(resources.google_monitoring_slo![slo]!.depends_on).toContain('${time_sleep.log_metrics_ready}');
  // Log-metric alerts wait for the function builds, not just for the metrics (provider #11102).
  expect(resources.time_sleep!.log_metrics_ready!.depends_on).toEqual(
    expect.arrayContaining(['${module.webhook}', '${module.worker}', '${module.reconciler}']),
  );
});

it('keeps a reconcile tick longer than its backlog alert waits, so the alert can fire', () => {
  const sub = resources.google_pubsub_subscription!.reconcile_push!;
  expect(sub.message_retention_duration).toBe('${local.reconcile_tick_retention_seconds}s');
  expect(locals.reconcile_tick_retention_seconds).toBe('${var.alerts.reconcile_tick_age_seconds + 900}');
  const backlog = locals.threshold_alerts.reconcile_backlog.conditions[0];
  expect(backlog.threshold).toBe('${var.alerts.reconcile_tick_age_seconds}');
  expect(backlog.filter).toContain('${google_pubsub_subscription.reconcile_push.name}');
  // 900 s more than the threshold: the alert's duration, and a margin.
  expect(Number(/^(\d+)s$/.exec(backlog.duration)![1])).toBeLessThan(900);
});

it('alerts when no reconciler pass finishes (absence, summed over revisions), on a metric of the line the reconciler writes', () => {
  expect(locals.log_counters.passes).toMatchObject({
    logs: '${local.reconciler_logs}',
    match: expect.stringMatching(/jsonPayload\.event=\\?"reconcileFinished\\?"/),
  });
  expect(readFileSync(join(dir, '..', 'functions', 'reconciler', 'handler.ts'), 'utf8')).toContain(
    "'reconcileFinished'",
  );
  const silent = resources.google_monitoring_alert_policy!.reconciler_silent!;
  const absent = silent.conditions[0].condition_absent[0];
  expect(absent.filter).toContain('${local.metric_types.passes}');
  expect(absent.duration).toBe('${var.alerts.reconciler_silence_seconds}s');
  expect(absent.aggregations[0]).toMatchObject({ cross_series_reducer: 'REDUCE_SUM' });
  expect(absent.aggregations[0].group_by_fields).toBeUndefined();
});

it('waits for new log metrics again whenever the set of metric names changes (#11102)', () => {
  const trigger = JSON.stringify(resources.time_sleep!.log_metrics_ready!.triggers);
  for (const [name] of all('google_logging_metric'))
    expect([name, trigger.includes(`google_logging_metric.${name}`)]).toEqual([name, true]);
  expect(trigger).toContain('m.name');
  // Every metric is one of the two for_each resources, named by local.metric_names.
  expect(
    all('google_logging_metric')
      .map(([n]) => n)
      .sort(),
  ).toEqual(['counter', 'latency']);
  expect([...Object.keys(locals.log_counters), ...Object.keys(locals.log_latencies)].sort()).toEqual(
    Object.keys(locals.metric_names).sort(),
  );
});

it('moves every renamed address to an instance that exists, so a deployed state follows (moved.tf.json)', () => {
  const moved = JSON.parse(readFileSync(join(dir, 'moved.tf.json'), 'utf8')) as {
    moved: Array<{ from: string; to: string }>;
  };
  const forEachKeys: Record<string, string[]> = {
    'google_logging_metric.counter': Object.keys(locals.log_counters),
    'google_logging_metric.latency': Object.keys(locals.log_latencies),
    'google_monitoring_alert_policy.threshold': Object.keys(locals.threshold_alerts),
  };
  for (const { from, to } of moved.moved) {
    const [, address, key] = /^(\w+\.\w+)\["(\w+)"\]$/.exec(to)!;
    expect([to, forEachKeys[address!]?.includes(key!)]).toEqual([to, true]);
    const [type, name] = from.split('.');
    expect([from, resources[type!]?.[name!]]).toEqual([from, undefined]);
  }
  // Every instance of the three resources came from somewhere, but the one new metric.
  const targets = moved.moved.map((m) => m.to);
  for (const [address, keys] of Object.entries(forEachKeys))
    for (const key of keys) if (key !== 'passes') expect(targets).toContain(`${address}["${key}"]`);
});

it('lets the deploy identity act as exactly the accounts Terraform creates, and mint identity tokens', () => {
  const actsAs = resources.google_service_account_iam_member!.deployer_acts_as!;
  expect(actsAs).toMatchObject({ role: 'roles/iam.serviceAccountUser', member: '${local.deployer_member}' });
  const accounts = Object.values(locals.runtime_accounts as Record<string, string>)
    .map((v) => /google_service_account\.(\w+)\.name/.exec(v)![1])
    .sort();
  expect(accounts).toEqual(
    all('google_service_account')
      .map(([n]) => n)
      .sort(),
  );
  expect(locals.apis).toContain('iamcredentials.googleapis.com');
  expect(JSON.stringify(resources.time_sleep!.iam_propagation!.triggers)).toContain(
    'google_service_account_iam_member.deployer_acts_as',
  );
});

it('bounds every provider to one major version, and zips the bundle with fixed file modes', () => {
  const versions = readFileSync(join(dir, 'versions.tf'), 'utf8');
  const constraints = [...versions.matchAll(/^\s+version\s*=\s*"([^"]+)"/gm)].map((m) => m[1]!);
  expect(constraints.length).toBeGreaterThanOrEqual(4);
  for (const c of constraints) expect(c).toMatch(/^~> \d+\.\d+$/);
  expect(source).toMatch(/output_file_mode\s*=\s*"0644"/);
});

const hasTerraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasTerraform) process.stdout.write('skipping terraform fmt -check: terraform is not installed on this machine\n');
(hasTerraform ? it : it.skip)('passes terraform fmt -check', () => {
  expect(() => execFileSync('terraform', ['fmt', '-check', '-recursive', dir], { stdio: 'pipe' })).not.toThrow();
});

// tfcheck ships in the workplace's shared/tools (beside this repository), not in it: where it is
// missing, these checks skip and say so in the test output.
const tfcheck = join(dir, '..', '..', 'shared', 'tools', 'tfcheck', 'tfcheck.mjs');
const canPlan = existsSync(tfcheck) && hasTerraform;
if (!canPlan)
  process.stdout.write(
    `SKIPPED: tfcheck --plan (${existsSync(tfcheck) ? 'terraform is not installed' : `${tfcheck} is not on this machine`})\n`,
  );
const planCases: Array<[string, string, string]> = [
  ['the example var file', 'terraform', join(dir, 'terraform.tfvars.example')],
  [
    'a var file that turns on every branch',
    'terraform',
    join(dir, '..', 'test', 'fixtures', 'terraform', 'all-branches.tfvars'),
  ],
  [
    'the function module on its own',
    join('terraform', 'modules', 'cloud-function'),
    join(moduleDir, 'terraform.tfvars.example'),
  ],
];
(canPlan ? it.each(planCases) : it.skip.each(planCases))(
  'plans offline (tfcheck --plan) with %s',
  (_what, folder, varFile) => {
    const result = spawnSync(process.execPath, [tfcheck, folder, '--plan', '--var-file', varFile], {
      cwd: join(dir, '..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    const out = `${result.stdout}${result.stderr}`;
    expect(out).toMatch(/validate and plan clean/);
    expect([result.status, out]).toEqual([0, out]);
  },
);

/** The production var file as Cloud Build gives it (project_id comes from the build), edited by `edit`. */
function productionVarFile(edit: (text: string) => string = (t) => t): string {
  const file = join(mkdtempSync(join(tmpdir(), 'omtx-tfvars-')), 'production.tfvars');
  writeFileSync(
    file,
    `${edit(readFileSync(join(dir, 'environments', 'production.tfvars'), 'utf8'))}\nproject_id = "omtx-prod-check"\n`,
  );
  return file;
}

const refusals: Array<[string, (t: string) => string, RegExp]> = [
  [
    'an SLO threshold between the latency buckets',
    (t) => `${t}\nslo = { freshness_seconds = 45 }\n`,
    /must be bucket bounds of the latency metrics/,
  ],
  [
    'an SLO goal of 100 %',
    (t) => `${t}\nslo = { webhook_availability_goal = 1 }\n`,
    /slo goals are shares strictly between 0 and 1/,
  ],
  [
    'no notification channel and no alerts_muted',
    (t) => t.replace(/^alerts_muted.*$/m, ''),
    /notification_channels is empty: every alert would page nobody/,
  ],
  [
    'no admin invoker and no allow_no_invokers',
    (t) => t.replace(/^\s*allow_no_invokers.*$/m, ''),
    /admin\.invokers is empty: nobody could call the admin API/,
  ],
  [
    'a tick-age alert Pub/Sub cannot keep a tick for',
    (t) => `${t}\nalerts = { reconcile_tick_age_seconds = 604000 }\n`,
    /reconcile_tick_age_seconds is 60 to 603900/,
  ],
  [
    'a reconciler silence window Monitoring cannot watch',
    (t) => `${t}\nalerts = { reconciler_silence_seconds = 90000 }\n`,
    /reconciler_silence_seconds is whole minutes from 600 to 84600/,
  ],
];
(canPlan ? it : it.skip)(
  'plans offline with the production var file, which says out loud that it pages nobody yet',
  () => {
    const result = spawnSync(process.execPath, [tfcheck, 'terraform', '--plan', '--var-file', productionVarFile()], {
      cwd: join(dir, '..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(`${result.stdout}${result.stderr}`).toMatch(/validate and plan clean/);
    expect(readFileSync(join(dir, 'environments', 'production.tfvars'), 'utf8')).toMatch(/^alerts_muted\s*=\s*true/m);
  },
);
(canPlan ? it.each(refusals) : it.skip.each(refusals))('refuses an environment with %s', (_what, edit, message) => {
  const result = spawnSync(process.execPath, [tfcheck, 'terraform', '--plan', '--var-file', productionVarFile(edit)], {
    cwd: join(dir, '..'),
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(result.status).not.toBe(0);
  expect(`${result.stdout}${result.stderr}`).toMatch(message);
});
