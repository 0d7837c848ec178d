/**
 * Security, wiring and apply-time properties of terraform/, read with the same HCL parser tfcheck
 * uses. `terraform validate` cannot run here (no provider downloads); tfcheck (schema + offline plan,
 * with the example var file and one that turns on every branch) and `terraform fmt` run at the end
 * of this file when their tools are on the machine, and say so when they are not.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { RANKING_INDEX } from '../../../shared/adapters/firestore-batches';
import { OPERATOR_INDEXES } from '../../../shared/adapters/firestore-operator';
import {
  ADMIN_ENV_VARS,
  FUNCTION_TARGETS,
  RECONCILER_ENV_VARS,
  WEBHOOK_ENV_VARS,
  WORKER_ENV_VARS,
} from '../../../shared/config/config';
import {
  cannotPlan,
  canPlan,
  hasTerraform,
  productionVarFile,
  runTfcheck,
  terraformDir as dir,
} from '../../support/terraform';

type Block = Record<string, any>;
const moduleDir = join(dir, 'modules', 'cloud-function');
const resources: Record<string, Record<string, Block>> = {};
const variables: Record<string, Block> = {};
const modules: Record<string, Block> = {};
let locals: Block = {};
let source = '';
let fnModule: Block = {};
const fnVariables: Record<string, Block> = {};
let fnIam: Block = {};

beforeAll(async () => {
  const moduleMain = (await parse('main.tf', readFileSync(join(moduleDir, 'main.tf'), 'utf8'))) as Block;
  fnModule = moduleMain.resource.google_cloudfunctions2_function.this[0];
  fnIam = moduleMain.resource.google_cloud_run_service_iam_member.iam[0];
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

type Instance = { address: string; args: Block };
/** An argument of a for_each instance, with `each.value.x`, `each.value` or `each.key` put in. */
function putIn(value: unknown, key: string, entry: unknown): unknown {
  if (value === '${each.value}') return entry;
  if (value === '${each.key}') return key;
  const field = /^\$\{each\.value\.(\w+)\}$/.exec(String(value))?.[1];
  return field ? (entry as Block)[field] : value;
}
/**
 * The instances of a resource as the configuration spells them: one for a plain resource (or one
 * whose for_each is an expression), one per entry for a for_each over a local table, with the
 * entry put into its top-level arguments.
 */
function instances(type: string): Instance[] {
  return all(type).flatMap(([name, block]) => {
    const table = /^\$\{local\.(\w+)\}$/.exec(String(block.for_each))?.[1];
    if (!table) return [{ address: `${type}.${name}`, args: block }];
    return Object.entries<unknown>(locals[table]).map(([key, entry]) => ({
      address: `${type}.${name}["${key}"]`,
      args: Object.fromEntries(Object.entries(block).map(([arg, value]) => [arg, putIn(value, key, entry)])),
    }));
  });
}
const grants = () => iamTypes().flatMap((type) => instances(type).map((i) => ({ type, ...i })));

/** Each function's configuration, by name: the webhook's module call and the private ones' table. */
const functionConfigs = (): Record<string, Block> => ({
  webhook: locals.webhook_function,
  ...locals.private_functions,
});

it('makes only the webhook public, through its own module’s iam', () => {
  const isPublic = (x: unknown) => /allUsers|allAuthenticatedUsers/.test(JSON.stringify(x));
  expect(grants().filter((g) => isPublic(g.args))).toEqual([]);
  const publicFunctions = Object.entries(functionConfigs()).filter(([, config]) => isPublic(config.iam));
  expect(publicFunctions.map(([name]) => name)).toEqual(['webhook']);
  expect(functionConfigs().webhook!.iam).toEqual({ 'roles/run.invoker': { public: 'allUsers' } });
  // The module grants on its own service, one member per role and label, non-authoritatively.
  expect(fnIam).toMatchObject({
    for_each: '${local.iam}',
    service: '${google_cloudfunctions2_function.this.service_config[0].service}',
  });
});

it('gives the secret accessor role only to the accounts that sign or verify: webhook, admin, reconciler', () => {
  const accessors = grants()
    .filter((g) => g.args.role === 'roles/secretmanager.secretAccessor')
    .map((g) => g.args.member);
  expect(accessors.sort()).toEqual(['${local.member.admin}', '${local.member.reconciler}', '${local.member.webhook}']);
  expect(locals.member).toBe('${{ for role, account in google_service_account.role : role => account.member }}');
  expect(functionConfigs().worker!.secrets).toEqual({});
});

it('keeps the admin API private: invokers only from admin.invokers and the deploy identity, never public', () => {
  const admin = resources.google_cloud_run_service_iam_member!.admin_invokers!;
  expect(admin).toMatchObject({ member: '${each.value}', service: '${module.function["admin"].service}' });
  expect(admin.for_each).toMatch(
    /^\$\{merge\(\{ for m in var\.admin\.invokers : m => m \}, .*deployer = local\.deployer_member/,
  );
  expect(JSON.stringify(variables.admin!.validation)).toContain('allUsers');
  // Only the webhook is public; nothing else grants on the admin service but the invokers' look-up
  // of it (run.viewer, for `gcloud run services proxy`), to the same members.
  const onAdmin = grants().filter((g) => String(g.args.service).includes('module.function["admin"]'));
  expect(onAdmin.map((g) => `${g.address} ${String(g.args.role)}`)).toEqual([
    'google_cloud_run_service_iam_member.admin_invokers roles/run.invoker',
    'google_cloud_run_service_iam_member.admin_viewers roles/run.viewer',
  ]);
  expect(resources.google_cloud_run_service_iam_member!.admin_viewers!.for_each).toBe(
    '${{ for m in var.admin.invokers : m => m }}',
  );
  expect(functionConfigs().admin!.iam).toBeUndefined();
});

it('runs the reconciler from Cloud Scheduler through a Pub/Sub push subscription, with no Eventarc trigger to wait for', () => {
  const job = resources.google_cloud_scheduler_job!.reconcile!;
  expect(job.pubsub_target[0].topic_name).toBe('${google_pubsub_topic.topic["reconcile_ticks"].id}');
  expect(locals.push_subscriptions.reconciler).toMatchObject({
    topic: '${google_pubsub_topic.topic["reconcile_ticks"]}',
    function: '${module.function["reconciler"]}',
  });
  expect(functionConfigs().reconciler!.iam).toEqual({
    'roles/run.invoker': { push: '${local.member.push_invoker}' },
  });
  expect(functionConfigs().worker!.iam).toEqual({ 'roles/run.invoker': { push: '${local.member.push_invoker}' } });
  expect(source).not.toMatch(/event_trigger|google_eventarc_trigger/);
  expect(locals.apis).not.toContain('eventarc.googleapis.com');
});

it('pushes with the push identity’s OIDC token to the function’s own URL, after its invoker grant', () => {
  const push = resources.google_pubsub_subscription!.push!;
  expect(push.for_each).toBe('${local.push_subscriptions}');
  expect(Object.keys(locals.push_subscriptions).sort()).toEqual(['dead_letters', 'reconciler', 'worker']);
  expect(push.push_config[0].push_endpoint).toBe(
    '${each.value.function.uri}/projects/${var.project_id}/topics/${each.value.topic.name}',
  );
  expect(push.push_config[0].oidc_token[0]).toEqual({
    service_account_email: '${google_service_account.role["push_invoker"].email}',
    audience: '${each.value.function.uri}',
  });
  // The push identity's invoker grants are the functions' own (module.function's iam).
  expect(push.depends_on).toContain('${module.function}');
  expect(push.depends_on).toContain('${google_service_account_iam_member.pubsub_token_creator}');
});

it('grants no basic roles and few project-wide roles', () => {
  const roles = grants().map((g) => g.args.role as string);
  expect(roles.filter((r) => ['roles/owner', 'roles/editor', 'roles/viewer'].includes(r))).toEqual([]);
  const projectWide = instances('google_project_iam_member').map((i) => `${i.args.role} → ${i.args.member}`);
  expect(projectWide.sort()).toEqual([
    'roles/cloudbuild.builds.builder → ${local.member.build}',
    'roles/datastore.user → ${local.member.admin}',
    'roles/datastore.user → ${local.member.reconciler}',
    'roles/datastore.user → ${local.member.worker}',
  ]);
});

it('has one service account per role', () => {
  expect(
    instances('google_service_account')
      .map((i) => i.address)
      .sort(),
  ).toEqual(
    ['admin', 'build', 'push_invoker', 'reconciler', 'webhook', 'worker'].map(
      (r) => `google_service_account.role["${r}"]`,
    ),
  );
});

it('feeds the worker from a push subscription with retries, and its dead letters back to it to be recorded', () => {
  const worker = locals.push_subscriptions.worker;
  expect(worker).toMatchObject({
    topic: '${google_pubsub_topic.topic["completions"]}',
    function: '${module.function["worker"]}',
  });
  expect(worker.backoff).toEqual({ min: expect.stringMatching(/^\d+s$/), max: expect.stringMatching(/^\d+s$/) });
  expect(worker.ack_deadline).toContain('var.worker.timeout_seconds');
  const deadLetters = resources.google_pubsub_subscription!.push!.dynamic.dead_letter_policy[0];
  expect(deadLetters.for_each).toBe('${each.value.dead_letters == null ? [] : [each.value.dead_letters]}');
  expect(deadLetters.content[0].max_delivery_attempts).toBe('${var.worker.max_delivery_attempts}');
  expect(worker.dead_letters).toBe('${google_pubsub_topic.topic["completions_dead_letter"].id}');
  // The mirror: the dead-letter topic pushed to the worker, which records each; no dead-letter
  // policy of its own (a loop), and the hold's name kept so that waiting messages move with it.
  expect(locals.push_subscriptions.dead_letters).toMatchObject({
    name: '${local.names.dead_letter_hold}',
    topic: '${google_pubsub_topic.topic["completions_dead_letter"]}',
    function: '${module.function["worker"]}',
    dead_letters: null,
  });
});

it('lets the Pub/Sub service agent publish dead letters, subscribe to the source and mint push tokens', () => {
  const agentGrants = grants()
    .filter((g) => g.args.member === '${local.pubsub_service_agent}')
    .map((g) => `${g.type}:${g.args.role}`);
  expect(agentGrants.sort()).toEqual([
    'google_pubsub_subscription_iam_member:roles/pubsub.subscriber',
    'google_pubsub_topic_iam_member:roles/pubsub.publisher',
    'google_service_account_iam_member:roles/iam.serviceAccountTokenCreator',
  ]);
  expect(locals.topic_grants.pubsub_agent_publishes_dead_letters.topic).toBe(
    '${google_pubsub_topic.topic["completions_dead_letter"].name}',
  );
  expect(resources.google_pubsub_subscription_iam_member!.pubsub_agent_subscribes_worker_push!.subscription).toBe(
    '${google_pubsub_subscription.push["worker"].name}',
  );
  expect(locals.pubsub_service_agent).toMatch(
    /service-\$\{data\.google_project\.this\.number\}@gcp-sa-pubsub\.iam\.gserviceaccount\.com/,
  );
});

it('deploys the four functions through one module, with the entry points the code registers, on nodejs24, each with its own account', () => {
  const index = readFileSync(join(dir, '..', 'functions', 'index.ts'), 'utf8');
  expect(all('google_cloudfunctions2_function')).toEqual([]);
  expect(fnModule.build_config[0]).toMatchObject({
    runtime: '${var.platform.runtime}',
    entry_point: '${var.function.entry_point}',
  });
  // The runtime is the Node.js the code is built and tested on: package.json's engines and Cloud Build's image.
  const pkg = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8'));
  const major = /^>=(\d+)$/.exec(pkg.engines.node)![1];
  expect(locals.platform.runtime).toBe(`nodejs${major}`);
  expect(pkg.devDependencies.node).toMatch(new RegExp(`^\\^${major}\\.`));
  for (const file of ['cloudbuild.yaml', 'cloudbuild-branch.yaml'])
    expect(readFileSync(join(dir, '..', file), 'utf8')).toContain(`_NODE_IMAGE: node:${major}\n`);
  const entryPoints = {
    webhook: 'modalWebhook',
    worker: 'processCompletion',
    admin: 'webhookAdmin',
    reconciler: 'reconcileExecutions',
  };
  expect(Object.keys(modules).sort()).toEqual(['function', 'webhook']);
  expect(modules.function!.for_each).toBe('${local.private_functions}');
  expect(Object.keys(functionConfigs()).sort()).toEqual([...FUNCTIONS].sort());
  for (const [name, entry] of Object.entries(entryPoints)) {
    expect([name, functionConfigs()[name]!.entry_point]).toEqual([name, entry]);
    expect(index).toMatch(new RegExp(`case '${entry}':`));
    expect(FUNCTION_TARGETS).toContain(entry);
  }
  // Each runs as the account of its own name.
  expect(modules.webhook).toMatchObject({ source: './modules/cloud-function', platform: '${local.platform}' });
  expect(modules.webhook!.function).toContain('account_email = google_service_account.role["webhook"].email');
  expect(modules.function).toMatchObject({ source: './modules/cloud-function', platform: '${local.platform}' });
  expect(modules.function!.function).toContain('account_email = google_service_account.role[each.key].email');
});

/** The module's default for a sizing field (`optional(type, default)` in its variable's type). */
function moduleDefault(name: string): string {
  const found = new RegExp(`\\b${name}\\s*=\\s*optional\\(\\w+,\\s*"?([^")]*)"?\\)`).exec(
    String(fnVariables.function!.type),
  );
  if (!found) throw new Error(`no module default for sizing.${name}`);
  return found[1]!;
}

/** A function's sizing as applied: its literal fields (a var's defaults put in), the module's defaults for the rest. */
function sizingOf(sizing: Block | undefined): { cpu: number; concurrency: number } {
  const field = (name: string) => Number(sizing?.[name] === undefined ? moduleDefault(name) : resolve(sizing[name]));
  return { cpu: field('cpu'), concurrency: field('concurrency') };
}

it('sizes every function as Cloud Run accepts it: at least 1 vCPU wherever concurrency is above 1', () => {
  for (const [name, config] of Object.entries(functionConfigs())) {
    const { cpu, concurrency } = sizingOf(config.sizing);
    expect([name, Number.isFinite(cpu), Number.isFinite(concurrency)]).toEqual([name, true, true]);
    if (concurrency > 1) expect([name, cpu >= 1]).toEqual([name, true]);
  }
  expect(sizingOf(functionConfigs().reconciler!.sizing)).toEqual({ cpu: 0.583, concurrency: 1 });
  // The module refuses a combination Cloud Run rejects, whoever calls it.
  expect(JSON.stringify(fnVariables.function!.validation)).toContain(
    'Total cpu < 1 is not supported with concurrency > 1',
  );
});

it('lets only Pub/Sub push reach the worker and the reconciler (internal-only ingress)', () => {
  const configs = functionConfigs();
  expect(configs.worker!.ingress).toBe('ALLOW_INTERNAL_ONLY');
  expect(configs.reconciler!.ingress).toBe('ALLOW_INTERNAL_ONLY');
  expect(configs.webhook!.ingress).toBe('ALLOW_ALL');
  expect(fnModule.service_config[0].ingress_settings).toBe('${var.function.ingress}');
});

it('pins the secret version: no "latest" default, the generated first version unless one is named', () => {
  expect(String(variables.webhook_secret!.type)).toMatch(/version\s*=\s*optional\(string\)/);
  expect(source).not.toMatch(/optional\(string,\s*"latest"\)/);
  expect(locals.secret_version).toContain('google_secret_manager_secret_version.initial');
  expect(JSON.stringify(fnVariables.function!.validation)).toContain('never \\"latest\\"');
  expect(locals.webhook_secrets).toContain('MODAL_WEBHOOK_SECRET_PREVIOUS');
});

it('creates the (default) Firestore database by default, before the indexes and the functions that use it', () => {
  expect(String(variables.firestore!.type)).toMatch(/create\s*=\s*optional\(bool,\s*true\)/);
  expect(Object.keys(resources.google_firestore_index!)).toEqual(['index']);
  expect(resources.google_firestore_index!.index!.depends_on).toContain('${google_firestore_database.default}');
  // The worker, the admin API and the reconciler.
  expect(modules.function!.depends_on).toContain('${google_firestore_database.default}');
  expect(Object.keys(locals.private_functions).sort()).toEqual(['admin', 'reconciler', 'worker']);
});

it("has the composite indexes the operator page's listings run on", () => {
  for (const [name, { collection, fields }] of Object.entries(OPERATOR_INDEXES)) {
    const index = locals.firestore_indexes[name];
    expect({ name, collection: index?.collection }).toEqual({ name, collection });
    expect(index.fields.map((f: { path: string; order: string }) => ({ field: f.path, order: f.order }))).toEqual(
      fields,
    );
  }
});

it('has the composite index the batch ranking query runs on, in the configured direction', () => {
  const index = locals.firestore_indexes.jobs_ranking;
  expect(index.collection).toBe('jobs');
  const fields = (index.fields as Array<{ path: string; order: string }>).map((f) => ({
    field: f.path,
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
  const triggers = JSON.stringify(resources.time_sleep!.iam_propagation!.triggers);
  for (const grants of [
    'google_project_iam_member.grant',
    'google_storage_bucket_iam_member.grant',
    'google_secret_manager_secret_iam_member.accessor',
    'google_service_account_iam_member.deployer_acts_as',
  ]) {
    expect(triggers).toContain(grants);
  }
  // Among them, what the build and the functions' start need.
  expect(locals.project_grants.build.role).toBe('roles/cloudbuild.builds.builder');
  expect(locals.bucket_grants.build_reads_source.bucket).toBe('${google_storage_bucket.bucket["source"].name}');
  expect(Object.keys(locals.secret_accessors).sort()).toEqual([
    'admin_secret_accessor',
    'reconciler_secret_accessor',
    'webhook_secret_accessor',
  ]);
  for (const call of ['webhook', 'function'])
    expect(modules[call]!.depends_on).toContain('${time_sleep.iam_propagation}');
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
  const envOf = (name: string) => [...common, ...names(functionConfigs()[name]!.environment)];
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
  expect(functionConfigs().webhook!.secrets).toBe('${local.webhook_secrets}');
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
  const buckets = resources.google_storage_bucket!.bucket!;
  expect(buckets).toMatchObject({ uniform_bucket_level_access: true, public_access_prevention: 'enforced' });
  expect(locals.buckets.results).toMatchObject({ force_destroy: false, expire_claims: true });
  const expiry = buckets.dynamic.lifecycle_rule[0];
  expect(expiry.for_each).toBe('${each.value.expire_claims ? [var.claim_check_retention_days] : []}');
  expect(expiry.content[0].condition[0].matches_prefix).toEqual(['claims/']);
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
  ).toEqual(['latency', 'webhook_availability']);
  expect(resources.google_monitoring_slo!.latency!.for_each).toBe('${local.latency_slos}');
  expect(Object.keys(locals.latency_slos).sort()).toEqual(['batch_completion', 'completion_freshness']);
  expect(Object.keys(locals.slos).sort()).toEqual(['batch_completion', 'completion_freshness', 'webhook_availability']);
  const burn = resources.google_monitoring_alert_policy!.slo_burn!;
  expect(burn.for_each).toBe('${local.slo_alerts}');
  expect(burn.combiner).toBe('AND');
  // Both windows, the long and the short, as one condition each.
  const windows = burn.dynamic.conditions[0];
  expect(windows.for_each).toEqual([
    '${local.slo_burn_policies[each.value.burn].long}',
    '${local.slo_burn_policies[each.value.burn].short}',
  ]);
  expect(windows.content[0].condition_threshold[0].filter).toContain('select_slo_burn_rate(');
  expect(windows.content[0].condition_threshold[0].filter).toContain('${conditions.value}');
  expect(Object.keys(locals.slo_burn_policies).sort()).toEqual(['fast', 'slow']);
  expect(resources.google_monitoring_slo!.latency!.depends_on).toContain('${time_sleep.log_metrics_ready}');
  // Log-metric alerts wait for the function builds, not just for the metrics (provider #11102).
  expect(resources.time_sleep!.log_metrics_ready!.depends_on).toEqual(
    expect.arrayContaining(['${module.webhook}', '${module.function}']),
  );
});

it('keeps a reconcile tick longer than its backlog alert waits, so the alert can fire', () => {
  expect(locals.push_subscriptions.reconciler.retention).toBe('${local.reconcile_tick_retention_seconds}s');
  expect(resources.google_pubsub_subscription!.push!.message_retention_duration).toBe('${each.value.retention}');
  expect(locals.reconcile_tick_retention_seconds).toBe('${var.alerts.reconcile_tick_age_seconds + 900}');
  const backlog = locals.threshold_alerts.reconcile_backlog.conditions[0];
  expect(backlog.threshold).toBe('${var.alerts.reconcile_tick_age_seconds}');
  expect(backlog.filter).toContain('${google_pubsub_subscription.push["reconciler"].name}');
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

it('waits 10 minutes for new log metrics, as the Monitoring API says it may take, inside the build timeout (#11102)', () => {
  const sleep = resources.time_sleep!.log_metrics_ready!;
  expect(sleep.create_duration).toBe('600s');
  // An apply that adds a metric (functions already built) waits the full 10 minutes: Cloud Build's
  // timeout must leave room for it besides the tests, the builds and the smoke test.
  const buildTimeout = Number(/^timeout: (\d+)s$/m.exec(readFileSync(join(dir, '..', 'cloudbuild.yaml'), 'utf8'))![1]);
  expect(buildTimeout).toBeGreaterThanOrEqual(3 * 600);
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

it('lets the deploy identity act as exactly the accounts Terraform creates, and mint identity tokens', () => {
  const actsAs = resources.google_service_account_iam_member!.deployer_acts_as!;
  expect(actsAs).toMatchObject({ role: 'roles/iam.serviceAccountUser', member: '${local.deployer_member}' });
  // One instance per account Terraform creates, and only when there is a deploy identity.
  expect(actsAs.for_each).toBe(
    '${{ for role, account in google_service_account.role : role => account.name if var.deployer_account_id != null }}',
  );
  expect(Object.keys(resources.google_service_account!)).toEqual(['role']);
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

if (!hasTerraform) process.stdout.write('skipping terraform fmt -check: terraform is not installed on this machine\n');
(hasTerraform ? it : it.skip)('passes terraform fmt -check', () => {
  expect(() => execFileSync('terraform', ['fmt', '-check', '-recursive', dir], { stdio: 'pipe' })).not.toThrow();
});

// Where tfcheck or terraform is missing, these checks skip and say so in the test output.
if (!canPlan) process.stdout.write(`SKIPPED: tfcheck --plan (${cannotPlan})\n`);
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
    const result = runTfcheck(folder, '--plan', '--var-file', varFile);
    const out = `${result.stdout}${result.stderr}`;
    expect(out).toMatch(/validate and plan clean/);
    expect([result.status, out]).toEqual([0, out]);
  },
);

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
    const result = runTfcheck('terraform', '--plan', '--var-file', productionVarFile());
    expect(`${result.stdout}${result.stderr}`).toMatch(/validate and plan clean/);
    expect(readFileSync(join(dir, 'environments', 'production.tfvars'), 'utf8')).toMatch(/^alerts_muted\s*=\s*true/m);
  },
);
(canPlan ? it.each(refusals) : it.skip.each(refusals))('refuses an environment with %s', (_what, edit, message) => {
  const result = runTfcheck('terraform', '--plan', '--var-file', productionVarFile(edit));
  expect(result.status).not.toBe(0);
  expect(`${result.stdout}${result.stderr}`).toMatch(message);
});
