/** cloudbuild.yaml: the pipeline's named steps, and apply only on main. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const yaml = readFileSync(join(__dirname, '..', '..', '..', 'cloudbuild.yaml'), 'utf8');
const stepIds = [...yaml.matchAll(/^\s+- id: ([\w-]+)$/gm)].map((m) => m[1]);

it('has the named steps in order', () => {
  expect(stepIds).toEqual(['check-config', 'install', 'lint', 'unit-tests', 'build', 'integration-tests', 'terraform-fmt', 'terraform-init', 'terraform-validate', 'terraform-plan', 'terraform-apply', 'terraform-converged']);
});

it('applies only on the main branch, from the reviewed plan', () => {
  const apply = yaml.slice(yaml.indexOf('- id: terraform-apply'));
  expect(apply).toMatch(/if \[ "\$BRANCH_NAME" = "main" \]; then\s+terraform apply -input=false -auto-approve tfplan/);
});

it('fails the build when a second plan after the apply on main is not empty', () => {
  const converged = yaml.slice(yaml.indexOf('- id: terraform-converged'));
  expect(converged).toMatch(/terraform plan -input=false -detailed-exitcode "-var-file=\$\{_TF_VAR_FILE\}"/);
  expect(converged).toMatch(/if \[ "\$code" = 2 \]; then[\s\S]*exit 1/);
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
  expect(check).toMatch(/if \[ -z "\$\{_TF_STATE_BUCKET\}" \]; then\s+echo "_TF_STATE_BUCKET is empty[^"]*" >&2\s+exit 1/);
  expect(yaml).toMatch(/_TF_VAR_FILE: environments\/production\.tfvars/);
  expect(yaml).toMatch(/args: \[plan, -input=false, "-var-file=\$\{_TF_VAR_FILE\}", -out=tfplan\]/);
});
