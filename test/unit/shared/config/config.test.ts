import {
  loadAdminConfig,
  loadReconcilerConfig,
  loadWebhookConfig,
  loadWorkerConfig,
} from '../../../../shared/config/config';
import { ConfigError } from '../../../../shared/platform/errors';

const base = { MODAL_WEBHOOK_SECRET: 'a-long-enough-secret-value' };

describe('loadWebhookConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadWebhookConfig(base);
    expect(config).toMatchObject({
      secrets: ['a-long-enough-secret-value'],
      toleranceSeconds: 300,
      completionsTopic: 'modal-completions',
      dryRun: false,
      claimCheckThresholdBytes: 5 * 1024 * 1024,
      publishBatchWindowMs: 1,
      results: { kind: 'local', dir: './.data/results' },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('fails naming the variable when the secret is missing', () => {
    expect(() => loadWebhookConfig({})).toThrow(ConfigError);
    expect(() => loadWebhookConfig({})).toThrow(/MODAL_WEBHOOK_SECRET/);
  });

  it.each([
    ['WEBHOOK_TOLERANCE_SECONDS', 'abc'],
    ['WEBHOOK_TOLERANCE_SECONDS', '0'],
    ['DRY_RUN', 'maybe'],
    ['CLAIM_CHECK_THRESHOLD_BYTES', '99999999'],
    ['MODAL_WEBHOOK_SECRET', '   \n'],
  ])('names %s when its value %j is invalid', (variable, value) => {
    expect(() => loadWebhookConfig({ ...base, [variable]: value })).toThrow(new RegExp(variable));
  });

  it('trims a secret pasted with a newline and says so without printing it', () => {
    const config = loadWebhookConfig({
      MODAL_WEBHOOK_SECRET: 'a-long-enough-secret-value\n',
      MODAL_WEBHOOK_SECRET_PREVIOUS: ' old-secret-0123456789abcdef ',
    });
    expect(config.secrets).toEqual(['a-long-enough-secret-value', 'old-secret-0123456789abcdef']);
    expect(config.warnings.join(' ')).toMatch(/MODAL_WEBHOOK_SECRET had leading or trailing whitespace/);
    expect(config.warnings.join(' ')).toMatch(/MODAL_WEBHOOK_SECRET_PREVIOUS had/);
    expect(config.warnings.join(' ')).not.toContain('a-long-enough-secret-value');
  });

  it.each([
    ['a whsec_ key that is not base64', 'whsec_admin_0123456789abcdef', /not valid base64/],
    ['a whsec_ key of 12 bytes', `whsec_${Buffer.alloc(12, 7).toString('base64')}`, /12 bytes is too short/],
    ['a whsec_ prefix with nothing after it', 'whsec_', /0 bytes is too short/],
    ['a plain secret of 16 bytes', 'sixteen-bytes-xx', /shorter than 24 bytes/],
  ])('refuses %s at cold start, naming the variable and never the value', (_name, secret, message) => {
    for (const variable of ['MODAL_WEBHOOK_SECRET', 'MODAL_WEBHOOK_SECRET_PREVIOUS']) {
      let error: Error | undefined;
      try {
        loadWebhookConfig({ ...base, [variable]: secret });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).toMatch(new RegExp(`${variable}: `));
      expect(error?.message).toMatch(message);
      if (secret.length > 6) expect(error?.message).not.toContain(secret.slice(6));
    }
  });

  it('accepts a whsec_ key of 24 bytes and a plain secret of 24', () => {
    expect(
      loadWebhookConfig({ ...base, MODAL_WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 7).toString('base64')}` }).secrets,
    ).toHaveLength(1);
    expect(loadWebhookConfig({ ...base, MODAL_WEBHOOK_SECRET: 'x'.repeat(24) }).secrets).toHaveLength(1);
  });

  it('lets a deployed admin show the raw secret only when ADMIN_ALLOW_SHOW_SECRET says so', () => {
    expect(loadAdminConfig({ ...base })).toMatchObject({ deployed: false, allowShowSecret: true });
    expect(loadAdminConfig({ ...base, K_SERVICE: 'webhook-admin' })).toMatchObject({
      deployed: true,
      allowShowSecret: false,
    });
    expect(loadAdminConfig({ ...base, K_SERVICE: 'webhook-admin', ADMIN_ALLOW_SHOW_SECRET: 'true' })).toMatchObject({
      allowShowSecret: true,
    });
  });

  it('reads DRY_RUN the way the seed sets it', () => {
    expect(loadWebhookConfig({ ...base, DRY_RUN: 'true' }).dryRun).toBe(true);
    expect(loadWebhookConfig({ ...base, DRY_RUN: 'false' }).dryRun).toBe(false);
  });

  it('uses Cloud Storage when RESULTS_BUCKET is set', () => {
    expect(loadWebhookConfig({ ...base, RESULTS_BUCKET: 'omtx-results' }).results).toEqual({
      kind: 'gcs',
      bucket: 'omtx-results',
    });
  });
});

describe('loadWorkerConfig', () => {
  it('needs no secret and has defaults', () => {
    expect(loadWorkerConfig({})).toMatchObject({
      collections: {
        jobs: 'jobs',
        batches: 'batches',
        deadLetters: 'dead_letters',
        executions: 'executions',
        apps: 'webhook_apps',
        stats: 'webhook_stats',
        tests: 'webhook_tests',
      },
      affinityDirection: 'higher',
      rankingSize: 10,
      batchEventsTopic: undefined,
    });
  });
  it('names AFFINITY_DIRECTION when it is neither higher nor lower', () => {
    expect(() => loadWorkerConfig({ AFFINITY_DIRECTION: 'up' })).toThrow(/AFFINITY_DIRECTION/);
  });
});

describe('admin and reconciler configuration', () => {
  it('prefixes the pipeline collections but not the backend ones', () => {
    expect(loadWorkerConfig({ PIPELINE_COLLECTION_PREFIX: 'omtx_' }).collections).toMatchObject({
      jobs: 'jobs',
      batches: 'batches',
      executions: 'omtx_executions',
      deadLetters: 'omtx_dead_letters',
    });
  });

  it('requires MODAL_STATUS_URL unless the reconciler runs webhook_only', () => {
    expect(() => loadReconcilerConfig({ MODAL_WEBHOOK_SECRET: 's'.repeat(32) })).toThrow(
      /MODAL_STATUS_URL: is required when COMPLETION_MODE is dual/,
    );
    expect(
      loadReconcilerConfig({ MODAL_WEBHOOK_SECRET: 's'.repeat(32), COMPLETION_MODE: 'webhook_only' }),
    ).toMatchObject({ mode: 'webhook_only', staleAfterMs: 900_000 });
    expect(() => loadReconcilerConfig({ MODAL_WEBHOOK_SECRET: 's'.repeat(32), COMPLETION_MODE: 'polling' })).toThrow(
      /COMPLETION_MODE/,
    );
  });

  it('derives the admin base URL from WEBHOOK_URL and lists expected apps', () => {
    const config = loadAdminConfig({
      MODAL_WEBHOOK_SECRET: 's'.repeat(32),
      WEBHOOK_URL: 'https://hooks.example.com/api/v3/webhooks/modal/completion',
      MODAL_APPS: 'omtx-boltz2, omtx-chai1,',
    });
    expect(config).toMatchObject({ baseUrl: 'https://hooks.example.com', expectedApps: ['omtx-boltz2', 'omtx-chai1'] });
    expect(config.warnings.join(' ')).toMatch(/MODAL_CONTROL_URL is not set/);
    expect(() => loadAdminConfig({ MODAL_WEBHOOK_SECRET: 's'.repeat(32), WEBHOOK_URL: 'not a url' })).toThrow(
      /WEBHOOK_URL/,
    );
  });
});
