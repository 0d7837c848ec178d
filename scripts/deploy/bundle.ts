/**
 * `npm run bundle`: the source Cloud Functions builds, in .build/function — the compiled functions
 * and shared code, package.json and package-lock.json. Terraform zips this folder and names the
 * object by its hash. Scripts and tests stay out of it.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../local/local-stack';

const root = projectRoot();
const out = join(root, '.build', 'function');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'dist'), { recursive: true });
for (const part of ['functions', 'shared']) {
  cpSync(join(root, 'dist', part), join(out, 'dist', part), {
    recursive: true,
    filter: (src) => !src.endsWith('.map'),
  });
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
// Cloud Functions runs `gcp-build` when present: empty, because dist/ is already compiled.
pkg.scripts = { 'gcp-build': '' };
writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
cpSync(join(root, 'package-lock.json'), join(out, 'package-lock.json'));
process.stdout.write(`bundle written to ${out}\n`);
