/**
 * terraform/modules/cloud-function/README.md, as the platform team reads it: every example plans
 * offline against the module (its arguments become the module's variables), and the inputs table
 * names every field of the module's variables.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotPlan, canPlan, runTfcheck, terraformDir } from '../../support/terraform';

const moduleDir = join(terraformDir, 'modules', 'cloud-function');
const readme = readFileSync(join(moduleDir, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```hcl\n(module "(\w+)" \{\n[\s\S]*?\n\})\n```/g)].map((m) => ({
  name: m[2]!,
  block: m[1]!,
}));

/** A module block's arguments as a var file of the module: the block's body, less `source`. */
function asVarFile(block: string): string {
  const body = block.split('\n').slice(1, -1);
  const file = join(mkdtempSync(join(tmpdir(), 'omtx-module-example-')), 'example.tfvars');
  writeFileSync(file, body.filter((line) => !/^\s*source\s*=/.test(line)).join('\n') + '\n');
  return file;
}

it('has examples of a public, a push-invoked and a scheduled function', () => {
  expect(examples.map((e) => e.name)).toEqual(['webhook', 'worker', 'reconciler']);
});

if (!canPlan) process.stdout.write(`SKIPPED: module README examples (${cannotPlan})\n`);
(canPlan ? it.each(examples.map((e) => [e.name, e.block])) : it.skip.each(examples.map((e) => [e.name, e.block])))(
  'plans the %s example offline',
  (_name, block) => {
    const result = runTfcheck(join('terraform', 'modules', 'cloud-function'), '--plan', '--var-file', asVarFile(block));
    const out = `${result.stdout}${result.stderr}`;
    expect([result.status, out]).toEqual([0, expect.stringMatching(/validate and plan clean/)]);
  },
);

it('lists every input field in its inputs table', () => {
  const variables = readFileSync(join(moduleDir, 'variables.tf'), 'utf8');
  const functionType = /variable "function" \{[\s\S]*?type = object\(\{([\s\S]*?)\n  \}\)/.exec(variables)![1]!;
  const optional = [...functionType.matchAll(/^    (\w+)\s*=\s*optional\(/gm)].map((m) => m[1]!);
  const table = readme.slice(readme.indexOf('## Inputs'), readme.indexOf('## Outputs'));
  expect(optional.filter((field) => !table.includes(`\`function.${field}\``))).toEqual([]);
  for (const field of ['cpu', 'memory_mib', 'concurrency', 'min_instances', 'max_instances', 'timeout_seconds'])
    expect([field, table.includes(`\`${field}\``)]).toEqual([field, true]);
  const outputs = [...readFileSync(join(moduleDir, 'outputs.tf'), 'utf8').matchAll(/^output "(\w+)"/gm)].map(
    (m) => m[1]!,
  );
  const outputTable = readme.slice(readme.indexOf('## Outputs'));
  expect(outputs.filter((o) => !outputTable.includes(`| \`${o}\` |`))).toEqual([]);
});
