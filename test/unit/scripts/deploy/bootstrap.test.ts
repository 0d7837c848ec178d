/**
 * scripts/deploy/bootstrap-project.sh against a stand-in `gcloud` that records its calls: where
 * domain-restricted sharing is enforced it stops before creating anything and says what to ask
 * for; where it is not, it goes on to the APIs, the state bucket and the Cloud Build identities.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', '..', '..', 'scripts', 'deploy', 'bootstrap-project.sh');

function run(policy: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'omtx-bootstrap-'));
  const calls = join(dir, 'calls.log');
  writeFileSync(join(dir, 'gcloud'), `#!/usr/bin/env bash
echo "$*" >> "${calls}"
case "$*" in
  "org-policies describe iam.allowedPolicyMemberDomains"*) printf '%s' '${policy}' ;;
  "org-policies describe"*) echo '{}' ;;
  *"describe"*) exit 1 ;;
esac
exit 0
`);
  chmodSync(join(dir, 'gcloud'), 0o755);
  const result = spawnSync('bash', [script, 'omtx-test-project', 'europe-west4'], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env } });
  let log = '';
  try { log = readFileSync(calls, 'utf8'); } catch { /* no call */ }
  return { status: result.status, stderr: result.stderr, stdout: result.stdout, calls: log.trim().split('\n') };
}

const ENFORCED = '{"name":"projects/omtx-test-project/policies/iam.allowedPolicyMemberDomains","spec":{"rules":[{"values":{"allowedValues":["C0abc123"]}}]}}';

it('stops before creating anything where domain-restricted sharing is enforced, and says what to ask for', () => {
  const r = run(ENFORCED);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/Enforced on omtx-test-project: iam\.allowedPolicyMemberDomains/);
  expect(r.stderr).toMatch(/allowAll: true/);
  expect(r.calls.every((c) => c.startsWith('org-policies describe'))).toBe(true);
});

it('goes on where sharing is allowed: APIs, state bucket, and the two Cloud Build identities', () => {
  const r = run('{"spec":{"rules":[{"allowAll":true}]}}');
  expect([r.status, r.stderr]).toEqual([0, '']);
  expect(r.calls).toEqual(expect.arrayContaining([
    expect.stringMatching(/^services enable cloudresourcemanager\.googleapis\.com/),
    expect.stringMatching(/^storage buckets create gs:\/\/omtx-test-project-tfstate/),
    expect.stringMatching(/^iam service-accounts create omtx-deployer/),
    expect.stringMatching(/^iam service-accounts create omtx-ci/),
    expect.stringMatching(/omtx-ci@omtx-test-project\.iam\.gserviceaccount\.com --role=roles\/logging\.logWriter/),
    expect.stringMatching(/omtx-deployer@omtx-test-project\.iam\.gserviceaccount\.com --role=roles\/logging\.logWriter/),
  ]));
  // The branch identity gets nothing but its logs.
  expect(r.calls.filter((c) => c.includes('omtx-ci@') && c.includes('add-iam-policy-binding'))).toHaveLength(1);
});

it('can be told to go on anyway', () => {
  const r = run(ENFORCED, { OMTX_SKIP_SHARING_CHECK: '1' });
  expect(r.status).toBe(0);
});
