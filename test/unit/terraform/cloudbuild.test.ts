/** cloudbuild.yaml: the pipeline's named steps, and apply only on main. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const yaml = readFileSync(join(__dirname, '..', '..', '..', 'cloudbuild.yaml'), 'utf8');
const stepIds = [...yaml.matchAll(/^\s+- id: ([\w-]+)$/gm)].map((m) => m[1]);

it('has the named steps in order', () => {
  expect(stepIds).toEqual([
    'check-config',
    'install',
    'lint',
    'unit-tests',
    'build',
    'integration-tests',
    'terraform-fmt',
    'terraform-init',
    'terraform-validate',
    'deployer-access',
    'terraform-plan',
    'terraform-apply',
    'terraform-converged',
    'smoke-test',
  ]);
});

it('applies only on the main branch, from the reviewed plan', () => {
  const apply = yaml.slice(yaml.indexOf('- id: terraform-apply'));
  expect(apply).toMatch(/if \[ "\$BRANCH_NAME" = "main" \]; then\s+terraform apply -input=false -auto-approve tfplan/);
});

it('fails the build when a second plan after the apply on main is not empty', () => {
  const converged = yaml.slice(yaml.indexOf('- id: terraform-converged'));
  expect(converged).toMatch(/terraform plan -input=false -detailed-exitcode "-var-file=\$\{_TF_VAR_FILE\}"/);
  expect(converged).toMatch(/if \[ "\$\$code" = 2 \]; then[\s\S]*exit 1/);
  expect(converged).toMatch(/waitFor: \[terraform-apply\]/);
});

it('runs integration tests in an image with the emulators, and logs to Cloud Logging', () => {
  expect(yaml).toMatch(/_EMULATORS_IMAGE: gcr\.io\/google\.com\/cloudsdktool\/google-cloud-cli:emulators/);
  expect(yaml).toMatch(/logging: CLOUD_LOGGING_ONLY/);
  expect(yaml).toMatch(/-backend-config=bucket=\$\{_TF_STATE_BUCKET\}/);
});

it('deploys what package.json builds', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
  expect(pkg.scripts.bundle).toBeDefined();
  expect(pkg.main).toBe('dist/functions/index.js');
});

it('fails early and clearly on an empty state bucket, and plans with the committed environment var file', () => {
  const check = yaml.slice(yaml.indexOf('- id: check-config'), yaml.indexOf('- id: install'));
  expect(check).toMatch(
    /if \[ -z "\$\{_TF_STATE_BUCKET\}" \]; then\s+echo "_TF_STATE_BUCKET is empty[^"]*" >&2\s+exit 1/,
  );
  expect(yaml).toMatch(/_TF_VAR_FILE: environments\/production\.tfvars/);
  expect(yaml).toMatch(/args: \[plan, -input=false, "-var-file=\$\{_TF_VAR_FILE\}", -out=tfplan\]/);
});

const branchYaml = readFileSync(join(__dirname, '..', '..', '..', 'cloudbuild-branch.yaml'), 'utf8');

const deployDocs = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'deploy.md'), 'utf8');

it('deploys as a named account and logs to Cloud Logging; branches build as one that can deploy nothing', () => {
  // The account is set where the build starts (the documented path), not by substitution in the file.
  for (const file of [yaml, branchYaml]) expect(file).not.toMatch(/^serviceAccount:/m);
  const triggers = /```bash\n(gcloud builds triggers create[\s\S]*?)```/.exec(deployDocs)![1]!.split(/\n(?=gcloud)/);
  expect(triggers).toEqual([
    expect.stringMatching(
      /--name=omtx-main [\s\S]*--build-config=cloudbuild\.yaml[\s\S]*--service-account=projects\/\$PROJECT_ID\/serviceAccounts\/omtx-deployer@\$PROJECT_ID\.iam\.gserviceaccount\.com/,
    ),
    expect.stringMatching(
      /--name=omtx-branches [\s\S]*--build-config=cloudbuild-branch\.yaml[\s\S]*--service-account=projects\/\$PROJECT_ID\/serviceAccounts\/omtx-ci@\$PROJECT_ID\.iam\.gserviceaccount\.com/,
    ),
  ]);
  expect(deployDocs).toMatch(
    /gcloud builds submit [^`]*--service-account=projects\/\$PROJECT_ID\/serviceAccounts\/omtx-deployer@/,
  );
  for (const file of [yaml, branchYaml]) expect(file).toMatch(/logging: CLOUD_LOGGING_ONLY/);
  // The branch build neither reads state nor plans nor applies.
  expect(branchYaml).not.toMatch(/terraform (plan|apply)|args: \[(plan|apply)|backend-config|_TF_STATE_BUCKET/);
  expect(branchYaml).toMatch(/init -input=false -backend=false && terraform validate/);
  // The deploy identity is the one Terraform lets call the admin API.
  expect(
    readFileSync(join(__dirname, '..', '..', '..', 'terraform', 'environments', 'production.tfvars'), 'utf8'),
  ).toMatch(/^deployer_account_id\s*=\s*"omtx-deployer"$/m);
});

it('smoke-tests the deploy on main with scripts/deploy/smoke-test.sh (its retries: smoke-test.test.ts)', () => {
  const smoke = yaml.slice(yaml.indexOf('- id: smoke-test'));
  expect(smoke).toMatch(/bash scripts\/deploy\/smoke-test\.sh "\$\$\{status_url%%\/api\/\*\}"/);
  expect(smoke).toMatch(/waitFor: \[terraform-converged\]/);
});

it('names what a plan after apply would still change, when it is not empty', () => {
  const converged = yaml.slice(yaml.indexOf('- id: terraform-converged'), yaml.indexOf('- id: smoke-test'));
  expect(converged).toMatch(/grep -E '\^  # \.\* \(will be\|must be\)' plan-after-apply\.txt >&2/);
  expect(converged).toMatch(/docs\/runbook\.md#plan-not-converged/);
});

it('escapes every shell variable, so that Cloud Build substitutes only its own ($$name, never $name)', () => {
  const BUILT_IN = new Set([
    'PROJECT_ID',
    'BUILD_ID',
    'PROJECT_NUMBER',
    'LOCATION',
    'TRIGGER_NAME',
    'COMMIT_SHA',
    'REVISION_ID',
    'SHORT_SHA',
    'REPO_NAME',
    'REPO_FULL_NAME',
    'BRANCH_NAME',
    'TAG_NAME',
    'REF_NAME',
    'TRIGGER_BUILD_CONFIG_PATH',
    'SERVICE_ACCOUNT_EMAIL',
    'SERVICE_ACCOUNT',
  ]);
  for (const file of [yaml, branchYaml]) {
    const defined = new Set([...file.matchAll(/^  (_[A-Z_]+):/gm)].map((m) => m[1]!));
    const used = [...file.replace(/\$\$/g, '').matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    for (const name of used) expect([name, BUILT_IN.has(name) || defined.has(name)]).toEqual([name, true]);
  }
});
