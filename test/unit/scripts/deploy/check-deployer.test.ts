/**
 * scripts/deploy/check-deployer.sh (Cloud Build's deployer-access step) against a stand-in gcloud
 * that answers for a live project: it passes when the deploy identity may grant every project role
 * Terraform grants and administers every runtime account, and otherwise names what is missing.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', '..', '..', 'scripts', 'deploy', 'check-deployer.sh');
const deployer = 'serviceAccount:omtx-deployer@omtx-test-project.iam.gserviceaccount.com';
const FULL =
  "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/cloudbuild.builds.builder', 'roles/datastore.user'])";

/** `expression`: the live condition; `notAdminOf`: runtime account ids the deployer does not administer. */
function run(expression: string, notAdminOf: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'omtx-check-deployer-'));
  writeFileSync(
    join(dir, 'gcloud'),
    `#!/usr/bin/env bash
case "$*" in
  "projects get-iam-policy omtx-test-project"*) printf '%s\\n' "${expression}" ;;
  "iam service-accounts get-iam-policy"*)
    for bad in ${notAdminOf.map((id) => `omtx-${id}@`).join(' ')}; do case "$4" in "$bad"*) exit 0 ;; esac; done
    echo "${deployer}" ;;
esac
`,
  );
  chmodSync(join(dir, 'gcloud'), 0o755);
  return spawnSync('bash', [script, 'omtx-test-project', 'omtx'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
  });
}

it('passes when the live project grants the deployer what Terraform needs', () => {
  const r = run(FULL);
  expect([r.status, r.stderr]).toEqual([0, '']);
  expect(r.stdout).toMatch(/may grant: roles\/cloudbuild\.builds\.builder roles\/datastore\.user/);
});

it('names a project role the live condition lacks, and a runtime account it does not administer', () => {
  const r = run("api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/datastore.user'])", [
    'fn-build',
  ]);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('it may not grant roles/cloudbuild.builds.builder on the project');
  expect(r.stderr).toContain('it does not administer omtx-fn-build@omtx-test-project.iam.gserviceaccount.com');
  expect(r.stderr).not.toContain('omtx-webhook@');
  expect(r.stderr).toMatch(
    /bootstrap-project\.sh omtx-test-project REGION omtx again \(docs\/runbook\.md#deployer-access\)/,
  );
});

it('names every role when the deployer has no projectIamAdmin binding at all', () => {
  const r = run('');
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('may not grant roles/datastore.user');
});
