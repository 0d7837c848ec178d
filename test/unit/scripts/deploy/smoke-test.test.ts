/**
 * scripts/deploy/smoke-test.sh (Cloud Build's smoke-test step) under a stand-in `gcloud` and a
 * stand-in `curl` that answers a scripted sequence of statuses: what a first deploy meets (IAM still
 * propagating, a cold start) is tried again and each attempt printed; a refusal no wait can change
 * fails at once; a missing identity token says what to grant.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', '..', '..', 'scripts', 'deploy', 'smoke-test.sh');

function run(statuses: string[], options: { tokenFails?: boolean; attempts?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'omtx-smoke-'));
  writeFileSync(join(dir, 'statuses'), statuses.join('\n') + '\n');
  writeFileSync(
    join(dir, 'gcloud'),
    `#!/usr/bin/env bash
echo "$*" >> "${dir}/gcloud.log"
${options.tokenFails ? 'echo "ERROR: (gcloud.auth.print-identity-token) No identity token can be obtained from the current credentials." >&2; exit 1' : 'echo token-123'}
`,
  );
  // Answers the next status in the file, writing a body to the -o file; records its arguments.
  writeFileSync(
    join(dir, 'curl'),
    `#!/usr/bin/env bash
echo "$*" >> "${dir}/curl.log"
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
status="$(head -n 1 "${dir}/statuses")"; sed -i '1d' "${dir}/statuses"
[ -z "$status" ] && status=599
if [ "$status" = 000 ]; then echo "curl: (7) Failed to connect" >&2; exit 7; fi
echo "{\\"status\\":$status}" > "$out"
printf '%s' "$status"
`,
  );
  chmodSync(join(dir, 'gcloud'), 0o755);
  chmodSync(join(dir, 'curl'), 0o755);
  const result = spawnSync('bash', [script, 'https://admin.example.run.app'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      SMOKE_FIRST_DELAY_SECONDS: '0',
      SMOKE_MAX_DELAY_SECONDS: '0',
      ...(options.attempts ? { SMOKE_ATTEMPTS: String(options.attempts) } : {}),
    },
  });
  let curls: string[] = [];
  try {
    curls = readFileSync(join(dir, 'curl.log'), 'utf8').trim().split('\n');
  } catch {
    /* never called */
  }
  return { status: result.status, out: result.stdout, err: result.stderr, curls };
}

it('retries what a fresh deploy meets (403 while the invoker grant propagates, a cold start) and passes at the first 200', () => {
  const r = run(['403', '403', '000', '503', '200']);
  expect(r.status).toBe(0);
  expect(r.out.match(/^smoke test attempt \d\/8: HTTP \d+/gm)).toEqual([
    'smoke test attempt 1/8: HTTP 403',
    'smoke test attempt 2/8: HTTP 403',
    'smoke test attempt 3/8: HTTP 000',
    'smoke test attempt 4/8: HTTP 503',
    'smoke test attempt 5/8: HTTP 200',
  ]);
  expect(r.out).toMatch(/smoke test passed/);
  expect(r.curls[0]).toMatch(
    /-H Authorization: Bearer token-123 .*https:\/\/admin\.example\.run\.app\/api\/v3\/webhooks\/modal\/test$/,
  );
});

it('fails the build after its last attempt, with every status printed', () => {
  const r = run(Array(4).fill('403'), { attempts: 4 });
  expect(r.status).toBe(1);
  expect(r.out.match(/HTTP 403/g)).toHaveLength(4);
  expect(r.err).toMatch(/no 200 after 4 attempts/);
});

it('fails at once on an answer no wait will change (422)', () => {
  const r = run(['422', '200']);
  expect(r.status).toBe(1);
  expect(r.curls).toHaveLength(1);
  expect(r.err).toMatch(/answered 422, which no wait will change/);
});

it('says what to grant when no identity token can be had', () => {
  const r = run(['200'], { tokenFails: true });
  expect(r.status).toBe(1);
  expect(r.curls).toEqual([]);
  expect(r.err).toMatch(/No identity token can be obtained/);
  expect(r.err).toMatch(/roles\/iam\.serviceAccountOpenIdTokenCreator/);
});
