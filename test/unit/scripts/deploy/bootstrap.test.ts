/**
 * scripts/deploy/bootstrap-project.sh against a stand-in `gcloud` that records its calls: where
 * domain-restricted sharing is enforced it stops before creating anything and says what to ask
 * for; where it is not, it goes on to the APIs, the state bucket and the Cloud Build identities.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from '@cdktf/hcl2json';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', '..', '..', 'scripts', 'deploy', 'bootstrap-project.sh');
const terraformDir = join(__dirname, '..', '..', '..', '..', 'terraform');

/**
 * Runs the script with a stand-in gcloud; `policy` is what describing the sharing constraint prints,
 * or 'FAIL' for a describe that fails. `newAccountFailures`: how many times a grant on a runtime
 * account fails with "does not exist" before it works (a new account not usable yet; 99: never).
 */
function run(policy: string, env: Record<string, string> = {}, newAccountFailures = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'omtx-bootstrap-'));
  const calls = join(dir, 'calls.log');
  writeFileSync(
    join(dir, 'gcloud'),
    `#!/usr/bin/env bash
echo "$*" >> "${calls}"
for a in "$@"; do case "$a" in --condition-from-file=*) echo "condition: $(cat "\${a#*=}" | tr '\\n' ' ')" >> "${calls}" ;; esac; done
case "$*" in
  "iam service-accounts add-iam-policy-binding omtx-"*"--role=roles/iam.serviceAccountAdmin"*)
    n="${dir}/failures-$3"; count=$(cat "$n" 2>/dev/null || echo 0)
    if [ "$count" -lt ${newAccountFailures} ]; then echo $((count + 1)) > "$n"; echo "ERROR: (gcloud.iam.service-accounts.add-iam-policy-binding) NOT_FOUND: Service account $3 does not exist." >&2; exit 1; fi ;;
esac
case "$*" in
  "org-policies describe iam.allowedPolicyMemberDomains"*)
    if [ '${policy}' = FAIL ]; then echo "ERROR: (gcloud.org-policies.describe) PERMISSION_DENIED: orgpolicy.policies.get" >&2; exit 1; fi
    printf '%s' '${policy}' ;;
  "org-policies describe"*) echo '{}' ;;
  *"describe"*) exit 1 ;;
esac
exit 0
`,
  );
  chmodSync(join(dir, 'gcloud'), 0o755);
  const result = spawnSync('bash', [script, 'omtx-test-project', 'europe-west4'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, OMTX_RETRY_SECONDS: '0', ...env },
  });
  let log = '';
  try {
    log = readFileSync(calls, 'utf8');
  } catch {
    /* no call */
  }
  return { status: result.status, stderr: result.stderr, stdout: result.stdout, calls: log.trim().split('\n') };
}

const ENFORCED =
  '{"name":"projects/omtx-test-project/policies/iam.allowedPolicyMemberDomains","spec":{"rules":[{"values":{"allowedValues":["C0abc123"]}}]}}';

it('stops before creating anything where domain-restricted sharing is enforced, and says what to ask for', () => {
  const r = run(ENFORCED);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/Enforced on omtx-test-project: iam\.allowedPolicyMemberDomains/);
  expect(r.stderr).toMatch(/allowAll: true/);
  expect(r.calls.filter((c) => !c.startsWith('org-policies describe') && !c.startsWith('services enable'))).toEqual([]);
});

it('enables the Org Policy API before reading the policy, and stops with the error when the policy cannot be read', () => {
  const r = run('FAIL');
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/Could not read the organisation policy iam\.allowedPolicyMemberDomains/);
  expect(r.stderr).toMatch(/PERMISSION_DENIED/);
  expect(r.calls[0]).toMatch(/^services enable orgpolicy\.googleapis\.com .*iamcredentials\.googleapis\.com/);
  // Nothing created: no account, no bucket, no grant.
  expect(r.calls.filter((c) => /create|add-iam-policy-binding/.test(c))).toEqual([]);
});

it('goes on where sharing is allowed: APIs, state bucket, and the two Cloud Build identities', () => {
  const r = run('{"spec":{"rules":[{"allowAll":true}]}}');
  expect([r.status, r.stderr]).toEqual([0, '']);
  expect(r.calls).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^services enable orgpolicy\.googleapis\.com cloudresourcemanager\.googleapis\.com/),
      expect.stringMatching(/^storage buckets create gs:\/\/omtx-test-project-tfstate/),
      expect.stringMatching(/^iam service-accounts create omtx-deployer/),
      expect.stringMatching(/^iam service-accounts create omtx-ci/),
      expect.stringMatching(/omtx-ci@omtx-test-project\.iam\.gserviceaccount\.com --role=roles\/logging\.logWriter/),
      expect.stringMatching(
        /omtx-deployer@omtx-test-project\.iam\.gserviceaccount\.com --role=roles\/logging\.logWriter/,
      ),
    ]),
  );
  // The branch identity gets nothing but its logs.
  expect(r.calls.filter((c) => c.includes('omtx-ci@') && c.includes('add-iam-policy-binding'))).toHaveLength(1);
});

it('can be told to go on anyway', () => {
  const r = run(ENFORCED, { OMTX_SKIP_SHARING_CHECK: '1' });
  expect(r.status).toBe(0);
});

it('grants the deployer IAM admin only for the project roles Terraform grants, actAs nowhere at project level, and a token of its own', async () => {
  const r = run('{"spec":{"rules":[{"allowAll":true}]}}');
  const deployerGrants = r.calls.filter(
    (c) => c.startsWith('projects add-iam-policy-binding') && c.includes('omtx-deployer@'),
  );
  const unconditional = deployerGrants
    .filter((c) => c.includes('--condition=None'))
    .map((c) => /--role=(\S+)/.exec(c)![1]);
  expect(unconditional).not.toContain('roles/resourcemanager.projectIamAdmin');
  expect(unconditional).not.toContain('roles/iam.serviceAccountUser');
  expect(
    deployerGrants.filter(
      (c) => c.includes('--role=roles/resourcemanager.projectIamAdmin') && c.includes('--condition-from-file='),
    ),
  ).toHaveLength(1);
  // The condition names exactly the roles terraform/ grants on the project.
  const condition = r.calls.find((c) => c.startsWith('condition: '))!;
  const allowed = [...condition.matchAll(/'(roles\/[^']+)'/g)]
    .map((m) => m[1])
    .filter((x) => x !== 'iam.googleapis.com/modifiedGrantsByRole')
    .sort();
  // Project grants are one resource over local.project_grants (terraform/iam.tf).
  const terraformRoles = new Set<string>();
  for (const file of readdirSync(terraformDir).filter((f) => f.endsWith('.tf'))) {
    const json = (await parse(file, readFileSync(join(terraformDir, file), 'utf8'))) as {
      resource?: { google_project_iam_member?: Record<string, Array<{ role: string; for_each?: string }>> };
      locals?: Array<Record<string, Record<string, { role: string }>>>;
    };
    for (const [block] of Object.values(json.resource?.google_project_iam_member ?? {})) {
      const table = /^\$\{local\.(\w+)\}$/.exec(block!.for_each ?? '')?.[1];
      const entries = table ? Object.values(Object.assign({}, ...(json.locals ?? []))[table] ?? {}) : [block!];
      expect([block!.for_each, entries.length > 0]).toEqual([block!.for_each, true]);
      for (const { role } of entries as Array<{ role: string }>) terraformRoles.add(role);
    }
  }
  expect(allowed).toEqual([...terraformRoles].sort());
  expect(condition).toMatch(/api\.getAttribute\('iam\.googleapis\.com\/modifiedGrantsByRole', \[\]\)\.hasOnly\(/);
  // Earlier, unconditional grants are taken back.
  expect(r.calls).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^projects remove-iam-policy-binding omtx-test-project .*--role=roles\/iam\.serviceAccountUser --condition=None/,
      ),
      expect.stringMatching(
        /^projects remove-iam-policy-binding omtx-test-project .*--role=roles\/resourcemanager\.projectIamAdmin --condition=None/,
      ),
      expect.stringMatching(
        /^iam service-accounts add-iam-policy-binding omtx-deployer@omtx-test-project\.iam\.gserviceaccount\.com .*--role=roles\/iam\.serviceAccountOpenIdTokenCreator/,
      ),
    ]),
  );
});

it('closes with the same first-apply commands as docs/deploy.md, var file included', () => {
  const r = run('{"spec":{"rules":[{"allowAll":true}]}}');
  const printed = r.stdout
    .split('Next (from the repository root):')[1]!
    .trim()
    .split('\n')
    .map((l) => l.trim());
  const docs = readFileSync(join(terraformDir, '..', 'docs', 'deploy.md'), 'utf8');
  const block = /## \d+\. First apply\s+```bash\n([\s\S]*?)```/.exec(docs)![1]!;
  const documented = block
    .trim()
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .map((l) => l.replace(/\$PROJECT_ID/g, 'omtx-test-project').replace(/\$REGION/g, 'europe-west4'));
  expect(printed).toEqual(documented);
  expect(printed.at(-1)).toMatch(/-var-file=environments\/production\.tfvars$/);
});

const ALLOWED = '{"spec":{"rules":[{"allowAll":true}]}}';

it('creates the runtime accounts Terraform manages and makes the deployer an admin of each, and of no other account', async () => {
  const r = run(ALLOWED);
  expect(r.status).toBe(0);
  const serviceAccounts = (await parse(
    'serviceaccounts.tf',
    readFileSync(join(terraformDir, 'serviceaccounts.tf'), 'utf8'),
  )) as {
    locals: Array<{ service_accounts: Record<string, { id: string }> }>;
  };
  const ids = Object.values(serviceAccounts.locals[0]!.service_accounts).map((a) => a.id);
  for (const id of ids) {
    expect(r.calls).toContain(`iam service-accounts create omtx-${id} --project=omtx-test-project`);
    expect(r.calls).toContain(
      `iam service-accounts add-iam-policy-binding omtx-${id}@omtx-test-project.iam.gserviceaccount.com --project=omtx-test-project --member=serviceAccount:omtx-deployer@omtx-test-project.iam.gserviceaccount.com --role=roles/iam.serviceAccountAdmin --condition=None`,
    );
  }
  const adminOf = r.calls
    .filter(
      (c) =>
        c.includes('--role=roles/iam.serviceAccountAdmin') &&
        c.startsWith('iam service-accounts add-iam-policy-binding'),
    )
    .map((c) =>
      c
        .split(' ')[3]!
        .replace(/@.*/, '')
        .replace(/^omtx-/, ''),
    );
  expect(adminOf.sort()).toEqual([...ids].sort());
  // On the project it may create accounts, not administer them all; an earlier grant that did is taken back.
  const projectRoles = r.calls
    .filter((c) => c.startsWith('projects add-iam-policy-binding') && c.includes('omtx-deployer@'))
    .map((c) => /--role=(\S+)/.exec(c)![1]);
  expect(projectRoles).toContain('roles/iam.serviceAccountCreator');
  expect(projectRoles).not.toContain('roles/iam.serviceAccountAdmin');
  expect(r.calls).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^projects remove-iam-policy-binding omtx-test-project .*--role=roles\/iam\.serviceAccountAdmin --condition=None/,
      ),
    ]),
  );
});

it('keeps asking while a new account is not usable yet, and stops naming the grant when it never is', () => {
  const patient = run(ALLOWED, {}, 2);
  expect(patient.status).toBe(0);
  const tries = patient.calls.filter((c) => c.startsWith('iam service-accounts add-iam-policy-binding omtx-webhook@'));
  expect(tries).toHaveLength(3);
  expect(patient.stderr).toMatch(/not yet \(ERROR: .*does not exist/);
  const stuck = run(ALLOWED, {}, 99);
  expect(stuck.status).toBe(1);
  expect(stuck.stderr).toMatch(
    /Gave up after 6 attempts: gcloud iam service-accounts add-iam-policy-binding omtx-webhook@/,
  );
});
