/**
 * The pieces every function's configuration is parsed with: zod helpers, the variables several
 * functions share (project, results, Firestore collections) and the one parse that names the
 * failing variable. shared/config/config.ts and shared/config/config-operations.ts build on them.
 */
import { z } from 'zod';
import { ConfigError } from '../platform/errors';

export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const name = z.string().trim().min(1);
export const optionalName = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

export const common = {
  GOOGLE_CLOUD_PROJECT: optionalName,
  RESULTS_BUCKET: optionalName,
  RESULTS_DIR: z.string().default('./.data/results'),
};

export const collectionsEnv = {
  JOBS_COLLECTION: name.default('jobs'),
  BATCHES_COLLECTION: name.default('batches'),
  /** Prefix of the pipeline's own collections (executions, dead letters, stats, apps, tests). */
  PIPELINE_COLLECTION_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_]*$/)
    .default(''),
  DEAD_LETTERS_COLLECTION: optionalName,
  FIRESTORE_DATABASE: name.default('(default)'),
};

/** Firestore collections; `jobs` and `batches` are shared with the OMTX-Hub backend. */
export interface Collections {
  jobs: string;
  batches: string;
  deadLetters: string;
  executions: string;
  apps: string;
  stats: string;
  tests: string;
  /** One document per function that reports it is alive (the reconciler's last finished pass). */
  heartbeats: string;
}

export function collections(e: {
  JOBS_COLLECTION: string;
  BATCHES_COLLECTION: string;
  PIPELINE_COLLECTION_PREFIX: string;
  DEAD_LETTERS_COLLECTION?: string;
}): Collections {
  const p = e.PIPELINE_COLLECTION_PREFIX;
  return Object.freeze({
    jobs: e.JOBS_COLLECTION,
    batches: e.BATCHES_COLLECTION,
    deadLetters: e.DEAD_LETTERS_COLLECTION ?? `${p}dead_letters`,
    executions: `${p}executions`,
    apps: `${p}webhook_apps`,
    stats: `${p}webhook_stats`,
    tests: `${p}webhook_tests`,
    heartbeats: `${p}heartbeats`,
  });
}

/** Where the worker, admin and reconciler find Firestore. */
export function firestoreSettings(
  e: { GOOGLE_CLOUD_PROJECT?: string; FIRESTORE_DATABASE: string } & Parameters<typeof collections>[0],
) {
  return { projectId: e.GOOGLE_CLOUD_PROJECT, collections: collections(e), firestoreDatabase: e.FIRESTORE_DATABASE };
}

export const url = z.url({ protocol: /^https?$/ });

/**
 * SIGNATURE_SCHEMES: which signature schemes the webhook accepts — `modal` (the seed's, body only)
 * and `standard` (Standard Webhooks, timestamp-bound). Once every app signs the standard way,
 * `standard` alone refuses the replayable seed scheme. The admin reads it too, to show it in /status.
 */
export const signatureSchemes = z
  .string()
  .default('modal,standard')
  .transform((v) => [
    ...new Set(
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  ])
  .pipe(z.array(z.enum(['modal', 'standard'])).min(1, 'name at least one of modal, standard'));

/** Where result files go: a Cloud Storage bucket in production, a local directory otherwise. */
export type ResultsLocation = { kind: 'gcs'; bucket: string } | { kind: 'local'; dir: string };

export type Env = Record<string, string | undefined>;

export function parse<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return result.data;
}

export function results(env: { RESULTS_BUCKET?: string; RESULTS_DIR: string }): ResultsLocation {
  return env.RESULTS_BUCKET ? { kind: 'gcs', bucket: env.RESULTS_BUCKET } : { kind: 'local', dir: env.RESULTS_DIR };
}

/** A secret pasted with `echo` carries a newline: trim it, and say so (without the value). */
export function cleanSecret(
  variable: string,
  raw: string | undefined,
  warnings: string[],
  problems: string[],
): string | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (trimmed !== raw) warnings.push(`${variable} had leading or trailing whitespace; it was trimmed before use`);
  if (trimmed === '') problems.push(`${variable}: is empty`);
  const weak = weakKeyProblem(trimmed);
  if (weak) problems.push(`${variable}: ${weak}`);
  return trimmed;
}

/** Fewest key bytes a secret may carry (a Standard Webhooks key is 24–64 bytes). */
export const MIN_KEY_BYTES = 24;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Why a secret would make a weak key, or nothing. A `whsec_` secret's key is its base64 bytes: text
 * that is not valid base64 would decode to fewer (or no) bytes and sign with a guessable key.
 * Never says the value.
 */
export function weakKeyProblem(secret: string): string | undefined {
  if (secret === '') return undefined;
  if (secret.startsWith('whsec_')) {
    const encoded = secret.slice('whsec_'.length);
    if (!BASE64.test(encoded)) return 'the part after whsec_ is not valid base64';
    const bytes = Buffer.from(encoded, 'base64').length;
    return bytes < MIN_KEY_BYTES
      ? `a whsec_ key of ${bytes} bytes is too short; use at least ${MIN_KEY_BYTES} (openssl rand -base64 32)`
      : undefined;
  }
  return Buffer.byteLength(secret) < MIN_KEY_BYTES
    ? `is shorter than ${MIN_KEY_BYTES} bytes; use openssl rand -base64 32`
    : undefined;
}
