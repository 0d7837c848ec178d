/**
 * What the Terraform tests share: the folder, whether terraform and the workplace's tfcheck are on
 * this machine (tfcheck ships in shared/tools beside this repository, not in it), running tfcheck,
 * and the production var file as Cloud Build gives it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const projectRoot = join(__dirname, '..', '..');
export const terraformDir = join(projectRoot, 'terraform');
export const hasTerraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
const tfcheck = join(projectRoot, '..', 'shared', 'tools', 'tfcheck', 'tfcheck.mjs');
export const canPlan = existsSync(tfcheck) && hasTerraform;
/** Why tfcheck --plan cannot run here ('' when it can). */
export const cannotPlan = canPlan
  ? ''
  : existsSync(tfcheck)
    ? 'terraform is not installed'
    : `${tfcheck} is not on this machine`;

/** tfcheck with `args`, from the project root. */
export function runTfcheck(...args: string[]) {
  return spawnSync(process.execPath, [tfcheck, ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 });
}

/** The production var file as Cloud Build gives it (project_id comes from the build), edited by `edit`. */
export function productionVarFile(edit: (text: string) => string = (t) => t): string {
  const file = join(mkdtempSync(join(tmpdir(), 'omtx-tfvars-')), 'production.tfvars');
  writeFileSync(
    file,
    `${edit(readFileSync(join(terraformDir, 'environments', 'production.tfvars'), 'utf8'))}\nproject_id = "omtx-prod-check"\n`,
  );
  return file;
}
