/**
 * What keeps the project readable in an afternoon, checked: a short front-door README whose every
 * relative link resolves (files and headings), a README in every top-level folder, and no long
 * step in functions/, shared/ and scripts/: no function whose own body (nested functions apart) is
 * over 60 lines, no function over 120 lines with the functions inside it (a factory that closes
 * over its dependencies fits on two screens; a helper that needs none of them is a module-level
 * function), no source file over 300 non-blank lines.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const root = join(__dirname, '..', '..');

function walk(dir: string, keep: (file: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(path).isDirectory() ? walk(path, keep) : keep(path) ? [path] : [];
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const markdown = [
  'README.md',
  ...['docs', 'functions', 'shared', 'scripts', 'terraform', 'test', 'examples'].flatMap((d) =>
    walk(join(root, d), (f) => f.endsWith('.md')).map((f) => relative(root, f)),
  ),
];

it('keeps the README a front door of at most 250 lines', () => {
  expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(250);
});

it('resolves every relative link of the README, docs/ and the folder READMEs, headings included', () => {
  const broken: string[] = [];
  for (const file of markdown) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(link!)) continue;
      const [path, anchor] = link!.split('#');
      const target = path ? join(root, dirname(file), path) : join(root, file);
      if (!existsSync(target)) {
        broken.push(`${file}: ${link}`);
        continue;
      }
      if (anchor && target.endsWith('.md')) {
        const headings = [...readFileSync(target, 'utf8').matchAll(/^#+ (.*)$/gm)].map((m) => anchorOf(m[1]!));
        if (!headings.includes(anchor)) broken.push(`${file}: ${link}`);
      }
    }
  }
  expect(broken).toEqual([]);
});

it('has a README in every top-level folder', () => {
  const folders = readdirSync(root).filter(
    (d) =>
      !d.startsWith('.') && !['node_modules', 'dist', 'coverage'].includes(d) && statSync(join(root, d)).isDirectory(),
  );
  expect(folders.filter((d) => !existsSync(join(root, d, 'README.md')))).toEqual([]);
});

/** Lines of a function's own body: its block, less the blocks of the functions inside it. */
function ownLines(source: ts.SourceFile, fn: ts.FunctionLikeDeclaration & { body: ts.Block }): number {
  const lines = (node: ts.Node) =>
    source.getLineAndCharacterOfPosition(node.getEnd()).line -
    source.getLineAndCharacterOfPosition(node.getStart()).line +
    1;
  let own = lines(fn.body);
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body && ts.isBlock(node.body)) {
      own -= lines(node.body);
      return;
    }
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(fn.body, visit);
  return own;
}

const lines = (source: ts.SourceFile, node: ts.Node) =>
  source.getLineAndCharacterOfPosition(node.getEnd()).line -
  source.getLineAndCharacterOfPosition(node.getStart()).line +
  1;

it('has no long step: functions within 60 lines of their own and 120 in all, files within 300 non-blank lines', () => {
  const files = ['functions', 'shared', 'scripts'].flatMap((d) => walk(join(root, d), (f) => f.endsWith('.ts')));
  const long: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const nonBlank = text.split('\n').filter((l) => l.trim()).length;
    if (nonBlank > 300) long.push(`${relative(root, file)}: ${nonBlank} non-blank lines`);
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body && ts.isBlock(node.body)) {
        const own = ownLines(source, node as ts.FunctionLikeDeclaration & { body: ts.Block });
        const all = lines(source, node.body);
        const at = `${relative(root, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
        if (own > 60) long.push(`${at}: ${own} lines of its own`);
        if (all > 120) long.push(`${at}: ${all} lines with the functions inside it`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  expect(long).toEqual([]);
});
