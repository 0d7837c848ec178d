/** functions/index.ts as Cloud Functions loads it: the built entry points, one per FUNCTION_TARGET. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

function load(env: Record<string, string>) {
  return spawnSync(
    process.execPath,
    [
      '-e',
      `
    const ff = require('@google-cloud/functions-framework/testing');
    require('./dist/functions/index.js');
    console.log(JSON.stringify(Object.fromEntries(['modalWebhook', 'processCompletion', 'webhookAdmin', 'reconcileExecutions'].map((n) => [n, !!ff.getFunction(n)]))));
  `,
    ],
    {
      cwd: root,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        METADATA_SERVER_DETECTION: 'none',
        GOOGLE_CLOUD_PROJECT: 'demo-omtx-test',
        ...env,
      },
    },
  );
}

it('fails at cold start naming the missing variable', () => {
  const result = load({ FUNCTION_TARGET: 'modalWebhook' });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toMatch(/Invalid configuration: MODAL_WEBHOOK_SECRET: is required/);
});

it('builds only the function FUNCTION_TARGET names, so the worker needs no webhook secret', () => {
  const result = load({ FUNCTION_TARGET: 'processCompletion' });
  expect(result.status).toBe(0);
  expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toEqual({
    modalWebhook: false,
    processCompletion: true,
    webhookAdmin: false,
    reconcileExecutions: false,
  });
});

it('fails the reconciler at cold start when its mode needs MODAL_STATUS_URL', () => {
  const result = load({
    FUNCTION_TARGET: 'reconcileExecutions',
    MODAL_WEBHOOK_SECRET: 'a-long-enough-secret-value',
    COMPLETION_MODE: 'webhook_primary',
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toMatch(/MODAL_STATUS_URL: is required when COMPLETION_MODE is webhook_primary/);
});

it('fails at cold start without FUNCTION_TARGET, or with a name it does not serve, naming the variable', () => {
  for (const target of [undefined, 'modalwebhook']) {
    const result = load({
      MODAL_WEBHOOK_SECRET: 'a-long-enough-secret-value-0123',
      ...(target ? { FUNCTION_TARGET: target } : {}),
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(
      /FUNCTION_TARGET: must name one of modalWebhook, processCompletion, webhookAdmin, reconcileExecutions/,
    );
  }
});

it('says at start that a pasted secret was trimmed, without the secret', () => {
  const result = load({ FUNCTION_TARGET: 'modalWebhook', MODAL_WEBHOOK_SECRET: 'a-secret-with-a-newline-1234\n' });
  expect(result.status).toBe(0);
  const lines = result.stdout.trim().split('\n');
  expect(JSON.parse(lines.at(-1)!)).toEqual({
    modalWebhook: true,
    processCompletion: false,
    webhookAdmin: false,
    reconcileExecutions: false,
  });
  const warning = lines.map((l) => JSON.parse(l)).find((l) => l.event === 'configWarning');
  expect(warning).toMatchObject({
    severity: 'WARNING',
    message: expect.stringMatching(/MODAL_WEBHOOK_SECRET had leading or trailing whitespace/),
  });
  expect(result.stdout).not.toContain('a-secret-with-a-newline-1234');
});
