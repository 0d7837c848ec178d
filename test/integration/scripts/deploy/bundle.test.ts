/** `npm run bundle` ships what Cloud Functions runs — the operator page's files included, from nowhere else. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPageAssets, pageFiles } from '../../../../functions/admin/page-assets';
import { projectRoot } from '../../../../scripts/local/local-stack';

it('ships the operator page beside the admin, every file it names, and no reference off this origin', () => {
  const root = projectRoot();
  const result = spawnSync(process.execPath, [join(root, 'dist', 'scripts', 'deploy', 'bundle.js')], {
    encoding: 'utf8',
  });
  expect(result.status).toBe(0);
  const dir = join(root, '.build', 'function', 'dist', 'functions', 'admin', 'page');
  expect(() => loadPageAssets(dir)).not.toThrow();
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const files = [...pageFiles(dir).values()].map((f) => f.file);
  // Each module the page imports is shipped beside it.
  for (const [, module] of files
    .filter((f) => f.endsWith('.js'))
    .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/from '\.\/([\w-]+\.js)'/g)]))
    expect(files).toContain(module);
  expect(files).toEqual(expect.arrayContaining(['index.html', 'page.css', 'page.js', 'dom.js', 'api.js']));
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    expect(text.length).toBeGreaterThan(100);
    // No CDN, no other origin: everything the page loads is served by the function.
    expect(text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(text).not.toMatch(/@import\s+url\(["']?https?:/);
  }
  expect(html).toContain('<script type="module" src="page.js"></script>');
  expect(html).not.toMatch(/<script>(?!<\/script>)|\son[a-z]+=/i);
});
