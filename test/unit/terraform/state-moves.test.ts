/**
 * A deployed environment follows every renamed address (terraform/moved.tf.json). Destroying a
 * google_*_iam_member removes its binding even when another address now holds the same one, so a
 * move that is missing is an outage on the next apply, not just churn.
 *
 * Offline, Terraform itself checks it: tfcheck's stand-in copy of terraform/ (every resource and
 * module call a terraform_data, named type__name), a state holding every address of an environment
 * deployed with the previous layout (test/fixtures/terraform/deployed-addresses.txt), and the moved
 * blocks translated to the stand-in names. `terraform plan` must then destroy nothing. A module call
 * is one stand-in, so a grant moved into a module is checked apart: the module declares the
 * resource, and the key the move names is one the module gives that grant, from the inputs
 * Terraform planned for the call.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cannotPlan,
  canPlan,
  productionVarFile,
  projectRoot as root,
  runTfcheck,
  terraformDir as dir,
} from '../../support/terraform';

if (!canPlan) process.stdout.write(`SKIPPED: state moves (${cannotPlan})\n`);

type Moved = { from: string; to: string };
const moved = (JSON.parse(readFileSync(join(dir, 'moved.tf.json'), 'utf8')) as { moved: Moved[] }).moved;
const deployed = readFileSync(join(root, 'test', 'fixtures', 'terraform', 'deployed-addresses.txt'), 'utf8')
  .split('\n')
  .filter((line) => line !== '' && !line.startsWith('#'));

/** `module.NAME["key"].TYPE.NAME["key"]`: a resource inside a module instance. */
const INTO_MODULE = /^module\.(\w+)(?:\["([^"]+)"\])?\.(\w+)\.(\w+)\["([^"]+)"\]$/;
const rootMoves = moved.filter((m) => !INTO_MODULE.test(m.to));

/** Where `address` ends, following the moves (Terraform follows chains of them too). */
function finalAddress(address: string, moves: Moved[] = moved): string {
  let current = address;
  for (let hops = 0; hops < moves.length; hops++) {
    const next = moves.find((m) => m.from === current);
    if (!next) return current;
    current = next.to;
  }
  throw new Error(`the moves from ${address} go round in a circle`);
}

/** The layout the last round deployed: the fixture's addresses moved by every move before this round's into modules. */
const previousLayout = deployed.map((address) => finalAddress(address, rootMoves));
/** Addresses that end inside a module: the stand-in plan cannot hold them (checked on their own below). */
const intoModule = (addresses: string[]) => addresses.filter((a) => INTO_MODULE.test(finalAddress(a)));
const outsideModules = (addresses: string[]) => addresses.filter((a) => !INTO_MODULE.test(finalAddress(a)));

/** `google_x.name["key"]`, `google_x.name[0]` or `module.name[...]` as its stand-in's parts. */
function standIn(address: string): { name: string; key: string | number | undefined } {
  const parts = /^(\w+)\.(\w+)(?:\[(?:"([^"]+)"|(\d+))\])?$/.exec(address);
  if (!parts) throw new Error(`not a resource or module address: ${address}`);
  const [, type, name, key, index] = parts;
  return { name: `${type}__${name}`, key: key ?? (index === undefined ? undefined : Number(index)) };
}
const standInAddress = (address: string) => {
  const { name, key } = standIn(address);
  return `terraform_data.${name}${key === undefined ? '' : `[${JSON.stringify(key)}]`}`;
};

/** A Terraform state holding `addresses`, as the stand-ins. */
function stateOf(addresses: string[]): string {
  const byName = new Map<string, Array<string | number | undefined>>();
  for (const address of addresses) {
    const { name, key } = standIn(address);
    byName.set(name, [...(byName.get(name) ?? []), key]);
  }
  const resources = [...byName].map(([name, keys]) => ({
    mode: 'managed',
    type: 'terraform_data',
    name,
    provider: 'provider["terraform.io/builtin/terraform"]',
    instances: keys.map((key) => ({
      ...(key === undefined ? {} : { index_key: key }),
      schema_version: 0,
      attributes: { id: name, input: null, output: null, triggers_replace: null },
    })),
  }));
  return JSON.stringify({
    version: 4,
    terraform_version: '1.11.0',
    serial: 1,
    lineage: 'moves',
    outputs: {},
    resources,
  });
}

function findStandInCopy(kept: string): string {
  for (const entry of readdirSync(kept, { recursive: true, encoding: 'utf8' }))
    if (entry.endsWith('zz_tfcheck_plan.tf')) return join(kept, entry, '..');
  throw new Error(`no stand-in copy in ${kept}`);
}

type Change = {
  address: string;
  previous_address?: string;
  change: { actions: string[]; after?: unknown; after_unknown?: unknown };
};

/** Plans today's terraform/ over a state of `addresses`, with the moved blocks that stay at the root. */
function planOver(addresses: string[], moves: Moved[] = rootMoves): Change[] {
  const varFile = productionVarFile();
  const check = runTfcheck('terraform', '--plan', '--keep', '--var-file', varFile);
  const kept = /stand-in copy kept in (\S+)/.exec(`${check.stdout}${check.stderr}`);
  expect([check.status, kept !== null]).toEqual([0, true]);
  const work = findStandInCopy(kept![1]!);
  writeFileSync(join(work, 'terraform.tfstate'), stateOf(addresses));
  writeFileSync(
    join(work, 'zz_moved.tf'),
    moves.map((m) => `moved {\n  from = ${standInAddress(m.from)}\n  to   = ${standInAddress(m.to)}\n}\n`).join(''),
  );
  const env = { ...process.env, TF_CLI_CONFIG_FILE: join(kept![1]!, '.terraformrc'), TF_IN_AUTOMATION: '1' };
  const tf = (...args: string[]) => {
    const result = spawnSync('terraform', [`-chdir=${work}`, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    expect([args[0], result.status, result.stderr]).toEqual([args[0], 0, '']);
    return result.stdout;
  };
  try {
    tf('init', '-backend=false', '-input=false', '-no-color');
    tf('plan', '-refresh=false', '-input=false', '-lock=false', '-no-color', `-var-file=${varFile}`, '-out=moves.plan');
    return (JSON.parse(tf('show', '-json', 'moves.plan')) as { resource_changes: Change[] }).resource_changes;
  } finally {
    rmSync(kept![1]!, { recursive: true, force: true });
  }
}

const layouts: Array<[string, string[]]> = [
  ['the layout before the last round', deployed],
  ['the last round’s layout', previousLayout],
];
(canPlan ? it.each(layouts) : it.skip.each(layouts))(
  'plans an environment deployed with %s with nothing destroyed: every renamed address moves',
  (_which, addresses) => {
    const changes = planOver(outsideModules(addresses));
    const destroyed = changes.filter((c) => c.change.actions.includes('delete')).map((c) => c.address);
    expect(destroyed).toEqual([]);
    // Every deployed address is still managed, under its old name or a new one.
    const kept = new Set(changes.flatMap((c) => [c.address, c.previous_address ?? c.address]));
    expect(
      outsideModules(addresses)
        .map(standInAddress)
        .filter((a) => !kept.has(a)),
    ).toEqual([]);
    // The IAM grants in particular went to their new addresses, not to a create beside a delete.
    const created = changes.filter((c) => c.change.actions.includes('create')).map((c) => c.address);
    expect(created.filter((a) => /_iam_member__/.test(a))).toEqual([]);
  },
  180_000,
);

/** The keys a function module gives its `iam` grants, for the inputs Terraform planned for the call. */
function iamKeysOf(call: Change): string[] {
  const input = (c: unknown) =>
    (c as { input?: { function?: { iam?: Record<string, Record<string, unknown>> } } })?.input;
  const iam = { ...input(call.change.after_unknown)?.function?.iam, ...input(call.change.after)?.function?.iam };
  return Object.entries(iam).flatMap(([role, members]) =>
    Object.keys({ ...members, ...input(call.change.after_unknown)?.function?.iam?.[role] }).map(
      (label) => `${role} ${label}`,
    ),
  );
}

(canPlan ? it : it.skip)(
  'moves the invoker grants into their functions’ modules, under keys the modules give them',
  () => {
    const bound = [...new Set([...intoModule(deployed), ...intoModule(previousLayout)].map((a) => finalAddress(a)))];
    expect(bound.length).toBeGreaterThan(0);
    const moduleSource = readFileSync(join(dir, 'modules', 'cloud-function', 'main.tf'), 'utf8');
    const calls = planOver(outsideModules(deployed)).filter((c) => /^terraform_data\.module__/.test(c.address));
    for (const target of bound) {
      const [, name, key, type, resource, resourceKey] = INTO_MODULE.exec(target)!;
      expect([target, new RegExp(`^resource "${type}" "${resource}"`, 'm').test(moduleSource)]).toEqual([target, true]);
      const call = calls.find((c) => c.address === standInAddress(`module.${name}${key ? `["${key}"]` : ''}`));
      expect([target, call !== undefined]).toEqual([target, true]);
      expect([target, iamKeysOf(call!)]).toEqual([target, expect.arrayContaining([resourceKey])]);
    }
  },
  180_000,
);

(canPlan ? it : it.skip)(
  'fails that check when a move is missing (so it can fail)',
  () => {
    const withoutMove = rootMoves.filter(
      (m) => m.from !== 'google_pubsub_topic_iam_member.webhook_publishes_completions',
    );
    expect(withoutMove).toHaveLength(rootMoves.length - 1);
    const changes = planOver(outsideModules(deployed), withoutMove);
    expect(changes.filter((c) => c.change.actions.includes('delete')).map((c) => c.address)).toEqual([
      'terraform_data.google_pubsub_topic_iam_member__webhook_publishes_completions',
    ]);
  },
  180_000,
);

it('moves only from addresses the configuration no longer declares, to ones it does', () => {
  const source = readdirSync(dir)
    .filter((f) => f.endsWith('.tf'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const declared = (address: string) => {
    const [type, name] = address.replace(/\[.*$/, '').replace(INTO_MODULE, 'module.$1').split('.');
    return type === 'module'
      ? new RegExp(`^module "${name}"`, 'm').test(source)
      : new RegExp(`^resource "${type}" "${name}"`, 'm').test(source);
  };
  for (const { from, to } of moved) {
    expect([from, declared(from)]).toEqual([from, false]);
    // Declared, or the start of a later move (a chain: an address that was renamed twice).
    expect([to, declared(to) || moved.some((m) => m.from === to)]).toEqual([to, true]);
  }
});
