/**
 * Configuration of the operator's functions — the admin API and the reconciler: environment → zod →
 * one frozen object, parsed at cold start, naming the variable that is wrong.
 */
import { z } from 'zod';
import { ConfigError } from '../platform/errors';
import {
  bool,
  cleanSecret,
  collectionsEnv,
  common,
  firestoreSettings,
  int,
  name,
  optionalName,
  parse,
  results,
  signatureSchemes,
  url,
  type Collections,
  type Env,
  type ResultsLocation,
} from './env';
import { APP_NAME, parseModalApps, type ModalApp } from '../modal/modal-config';
import { parseSecretReadCommand } from '../modal/secret-source';

const adminEnv = z.object({
  ...common,
  ...collectionsEnv,
  MODAL_WEBHOOK_SECRET: z.string({
    error: 'is required (the admin signs test deliveries and cancel requests with it)',
  }),
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  WEBHOOK_URL: url.optional(),
  WEBHOOK_BASE_URL: url.optional(),
  MODAL_CONTROL_URL: url.optional(),
  /** Modal apps expected to send webhooks: `name` or `name=https://control-url`, comma-separated. */
  MODAL_APPS: z
    .string()
    .default('')
    .refine((spec) => parseModalApps(spec).every((a) => APP_NAME.test(a.name)), {
      error: 'app names are letters, digits, ".", "_" and "-" (at most 50, starting with a letter or digit)',
    }),
  /** The command that prints the current secret where the configure step's commands run (never the value); one of secret-source.ts's shapes. */
  SECRET_READ_COMMAND: z
    .string()
    .trim()
    .optional()
    .refine((c) => c === undefined || parseSecretReadCommand(c) !== undefined, {
      error:
        "is one of: printenv NAME; cat '/absolute/path'; gcloud secrets versions access VERSION --secret=ID --project=PROJECT",
    }),
  TEST_DELIVERY_TIMEOUT_SECONDS: int(1, 120).default(30),
  /** The webhook's accepted schemes (the same variable as the webhook's), shown in /status. */
  SIGNATURE_SCHEMES: signatureSchemes,
  /** Set by Cloud Run (Cloud Functions gen2): the admin is deployed, not local. */
  K_SERVICE: optionalName,
  /** A deployed admin shows the raw secret (configure's show_secret) only when this says so. */
  ADMIN_ALLOW_SHOW_SECRET: bool.default(false),
  /**
   * Origins a state-changing request may come from (its `Origin` header): the operator page's, as
   * the browser sees it. Behind `gcloud run services proxy --port 8080` that is localhost:8080.
   */
  ADMIN_ALLOWED_ORIGINS: z
    .string()
    .default('http://localhost:8080,http://127.0.0.1:8080')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .refine((origins) => origins.every((o) => isOrigin(o)), {
      error: 'is a comma-separated list of origins such as http://localhost:8080 (scheme, host and port only)',
    }),
  /** The SLOs the overview judges health by (Terraform passes var.slo). */
  SLO_AVAILABILITY_GOAL: z.coerce.number().gt(0).lt(1).default(0.999),
  SLO_FRESHNESS_GOAL: z.coerce.number().gt(0).lt(1).default(0.99),
  SLO_FRESHNESS_SECONDS: int(1, 3600).default(60),
  /** A reconciler with no finished pass for this long is reported as quiet (Terraform: alerts.reconcile_tick_age_seconds). */
  RECONCILER_QUIET_SECONDS: int(60, 86_400).default(900),
});

/** `scheme://host[:port]` and nothing else, as a browser's Origin header spells it. */
function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === value;
  } catch {
    return false;
  }
}

const reconcilerEnv = z.object({
  ...common,
  ...collectionsEnv,
  MODAL_WEBHOOK_SECRET: z.string({ error: 'is required (status requests to Modal are signed with it)' }),
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  COMPLETION_MODE: z.enum(['dual', 'webhook_primary', 'webhook_only']).default('dual'),
  STALE_AFTER_SECONDS: int(30, 7 * 24 * 3600).default(900),
  MODAL_STATUS_URL: url.optional(),
  RECONCILE_MAX_EXECUTIONS: int(1, 5000).default(500),
});

/** Environment variables the admin and the reconciler read (the Terraform tests check the deployment against these). */
export const ADMIN_ENV_VARS: readonly string[] = Object.keys(adminEnv.shape);
export const RECONCILER_ENV_VARS: readonly string[] = Object.keys(reconcilerEnv.shape);

export interface AdminConfig {
  projectId?: string;
  collections: Collections;
  firestoreDatabase: string;
  secret: string;
  completionsTopic: string;
  /** The webhook's completion URL, for test deliveries. */
  webhookUrl?: string;
  /** The public base URL reported by the status endpoint (the seed's WEBHOOK_BASE_URL). */
  baseUrl?: string;
  modalControlUrl?: string;
  /** Modal apps expected to send webhooks (MODAL_APPS, comma-separated). */
  expectedApps: readonly string[];
  /** The signature schemes the webhook accepts (SIGNATURE_SCHEMES). */
  signatureSchemes: readonly ('modal' | 'standard')[];
  /** The same apps with their control endpoints (MODAL_APPS `name=url`, else MODAL_CONTROL_URL). */
  modalApps: readonly ModalApp[];
  /** Prints the secret where the configure step's commands run (SECRET_READ_COMMAND). */
  secretReadCommand: string;
  testTimeoutMs: number;
  results: ResultsLocation;
  warnings: readonly string[];
  /** Running on Cloud Run: identities come only from verified tokens, the secret is not shown. */
  deployed: boolean;
  /** Whether configure may answer the raw secret (always locally; deployed only with ADMIN_ALLOW_SHOW_SECRET). */
  allowShowSecret: boolean;
  /** Origins a state-changing request may come from (ADMIN_ALLOWED_ORIGINS). */
  allowedOrigins: readonly string[];
  /** What the overview judges health by. */
  health: Readonly<HealthObjectives>;
}

/** The SLOs' goals and the reconciler's expected rhythm, as the overview judges them. */
export interface HealthObjectives {
  availabilityGoal: number;
  freshnessGoal: number;
  freshnessSeconds: number;
  reconcilerQuietSeconds: number;
}

export function loadAdminConfig(env: Env): Readonly<AdminConfig> {
  const e = parse(adminEnv, env);
  const warnings: string[] = [];
  const problems: string[] = [];
  const secret = cleanSecret('MODAL_WEBHOOK_SECRET', e.MODAL_WEBHOOK_SECRET, warnings, problems)!;
  if (problems.length) throw new ConfigError(problems);
  if (!e.WEBHOOK_URL) warnings.push('WEBHOOK_URL is not set: POST /api/v3/webhooks/modal/test will answer 503');
  if (!e.MODAL_CONTROL_URL)
    warnings.push('MODAL_CONTROL_URL is not set: cancel marks jobs cancelled but cannot stop Modal calls');
  return Object.freeze({
    ...firestoreSettings(e),
    secret,
    completionsTopic: e.COMPLETIONS_TOPIC,
    webhookUrl: e.WEBHOOK_URL,
    baseUrl: e.WEBHOOK_BASE_URL ?? (e.WEBHOOK_URL ? new URL(e.WEBHOOK_URL).origin : undefined),
    modalControlUrl: e.MODAL_CONTROL_URL,
    expectedApps: Object.freeze(parseModalApps(e.MODAL_APPS).map((a) => a.name)),
    modalApps: Object.freeze(parseModalApps(e.MODAL_APPS, e.MODAL_CONTROL_URL)),
    secretReadCommand: e.SECRET_READ_COMMAND ?? 'printenv MODAL_WEBHOOK_SECRET',
    signatureSchemes: Object.freeze(e.SIGNATURE_SCHEMES),
    testTimeoutMs: e.TEST_DELIVERY_TIMEOUT_SECONDS * 1000,
    deployed: e.K_SERVICE !== undefined,
    allowShowSecret: e.K_SERVICE === undefined || e.ADMIN_ALLOW_SHOW_SECRET,
    allowedOrigins: Object.freeze(e.ADMIN_ALLOWED_ORIGINS),
    health: Object.freeze({
      availabilityGoal: e.SLO_AVAILABILITY_GOAL,
      freshnessGoal: e.SLO_FRESHNESS_GOAL,
      freshnessSeconds: e.SLO_FRESHNESS_SECONDS,
      reconcilerQuietSeconds: e.RECONCILER_QUIET_SECONDS,
    }),
    results: results(e),
    warnings: Object.freeze(warnings),
  });
}

export type CompletionMode = 'dual' | 'webhook_primary' | 'webhook_only';

export interface ReconcilerConfig {
  projectId?: string;
  collections: Collections;
  firestoreDatabase: string;
  secret: string;
  completionsTopic: string;
  mode: CompletionMode;
  staleAfterMs: number;
  modalStatusUrl?: string;
  maxExecutions: number;
  warnings: readonly string[];
}

export function loadReconcilerConfig(env: Env): Readonly<ReconcilerConfig> {
  const e = parse(reconcilerEnv, env);
  const warnings: string[] = [];
  const problems: string[] = [];
  const secret = cleanSecret('MODAL_WEBHOOK_SECRET', e.MODAL_WEBHOOK_SECRET, warnings, problems)!;
  if (e.COMPLETION_MODE !== 'webhook_only' && !e.MODAL_STATUS_URL) {
    problems.push(
      `MODAL_STATUS_URL: is required when COMPLETION_MODE is ${e.COMPLETION_MODE} (the reconciler polls it)`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    ...firestoreSettings(e),
    secret,
    completionsTopic: e.COMPLETIONS_TOPIC,
    mode: e.COMPLETION_MODE,
    staleAfterMs: e.STALE_AFTER_SECONDS * 1000,
    modalStatusUrl: e.MODAL_STATUS_URL,
    maxExecutions: e.RECONCILE_MAX_EXECUTIONS,
    warnings: Object.freeze(warnings),
  });
}
