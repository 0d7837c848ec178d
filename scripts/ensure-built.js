#!/usr/bin/env node
/**
 * Builds dist/ only when a source under functions/, shared/ or scripts/ (or a tsconfig) is newer
 * than the last build, so that `npm run show`, `send-webhook`, `dead-letters` and `start` do not
 * recompile on every call. Plain JavaScript on purpose: it runs before anything is compiled.
 */
'use strict';
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else if (/\.(ts|html|css)$/.test(entry.name) || entry.name === 'tsconfig.json')
      latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

const sources = Math.max(
  ...['functions', 'shared', 'scripts'].map((d) => newest(join(root, d))),
  ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs),
);
if (!existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
  process.stderr.write('compiling (sources changed since the last build)…\n');
  require('./build').build();
}
