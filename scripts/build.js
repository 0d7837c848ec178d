#!/usr/bin/env node
/**
 * `npm run build`: the functions, shared code and scripts (tsconfig.build.json, CommonJS for
 * Node), then the operator page (functions/admin/page: its TypeScript module compiled for the
 * browser, its HTML and CSS copied beside it) into dist/. Plain JavaScript: it runs before anything
 * is compiled. scripts/ensure-built.js calls it when a source changed.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { copyFileSync, mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const PAGE = join('functions', 'admin', 'page');

function build() {
  const tsc = require.resolve('typescript/bin/tsc');
  for (const project of ['tsconfig.build.json', join(PAGE, 'tsconfig.json')])
    execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit', cwd: root });
  const out = join(root, 'dist', PAGE);
  mkdirSync(out, { recursive: true });
  for (const file of ['index.html', 'page.css']) copyFileSync(join(root, PAGE, file), join(out, file));
  writeFileSync(join(root, 'dist', '.build-stamp'), new Date().toISOString() + '\n');
}

module.exports = { build };

if (require.main === module) build();
