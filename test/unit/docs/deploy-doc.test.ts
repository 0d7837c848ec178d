/**
 * docs/deploy.md, every command of it checked: each line of its bash blocks is parsed by bash, and
 * is one of the commands below, each checked against what runs it — the bootstrap run under a
 * stand-in gcloud (scripts/deploy/bootstrap.test.ts), the first apply compared with the bootstrap's
 * closing advice (same file), the triggers and the manual build with cloudbuild.yaml
 * (terraform/cloudbuild.test.ts), and here: every `terraform output` it reads exists, and every npm
 * tool and flag it uses is one the tool takes. A command of another kind fails this test until it
 * gets a check.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'deploy.md'), 'utf8');
const blocks = [...doc.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
/** Each command: its lines joined where they end in a backslash, comments dropped. */
const commands = blocks.flatMap((b) =>
  b
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean),
);
const outputs = new Set(
  [...readFileSync(join(root, 'terraform', 'outputs.tf'), 'utf8').matchAll(/^output "(\w+)"/gm)].map((m) => m[1]!),
);
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;

/** The flags an npm tool takes, from its own --help (the built tool). */
function flagsOf(tool: string): Set<string> {
  const file = /node (dist\/scripts\/tools\/[\w-]+\.js)/.exec(scripts[tool]!)![1]!;
  const help = spawnSync(process.execPath, [join(root, file), '--help'], { encoding: 'utf8' }).stdout;
  return new Set([...help.matchAll(/^\s+(--[\w-]+)/gm)].map((m) => m[1]!));
}

/** What checks a command, by how it starts; undefined for a command nothing checks. */
const CHECKED_ELSEWHERE: Array<[RegExp, string]> = [
  [/^scripts\/deploy\/bootstrap-project\.sh "\$PROJECT_ID" "\$REGION"$/, 'bootstrap.test.ts runs it'],
  [/^(npm ci|npm run bundle|cd terraform|terraform init |TF_VAR_project_id=)/, 'the bootstrap’s closing advice'],
  [/^gcloud builds (triggers create|submit) /, 'cloudbuild.test.ts'],
  [/^(export (PROJECT_ID|REGION)=\S+|cd \.\.)$/, 'plain shell'],
];

it('parses every bash block', () => {
  expect(blocks.length).toBeGreaterThan(4);
  for (const block of blocks) expect(spawnSync('bash', ['-n'], { input: block, encoding: 'utf8' }).stderr).toBe('');
});

it.each(commands)('checks %s', (command) => {
  for (const name of command.matchAll(/terraform (?:-chdir=terraform )?output -raw (\w+)/g))
    expect([name[1], outputs.has(name[1]!)]).toEqual([name[1], true]);
  const tool = /^npm run ([\w-]+) -- (.*)$/.exec(command);
  if (tool) {
    expect(scripts[tool[1]!]).toBeDefined();
    const flags = flagsOf(tool[1]!);
    for (const [flag] of tool[2]!.matchAll(/--[\w-]+/g)) expect([flag, flags.has(flag)]).toEqual([flag, true]);
    return;
  }
  if (/^(curl|export MODAL_WEBHOOK_SECRET=)/.test(command)) {
    expect(command).toMatch(/terraform -chdir=terraform output -raw \w+/);
    return;
  }
  expect([command, CHECKED_ELSEWHERE.some(([pattern]) => pattern.test(command))]).toEqual([command, true]);
});
