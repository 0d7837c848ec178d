/**
 * BlobStore on a local directory: the embedded default for `npm start` when no bucket is set.
 * Create-if-absent is atomic: the file is written aside, then hard-linked into place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, link, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BlobStore } from '../ports';

export function createLocalBlobStore(dir: string): BlobStore {
  const root = resolve(dir);
  const inside = (path: string) => {
    const full = resolve(root, path);
    if (full !== root && !full.startsWith(root + sep)) throw new Error(`path escapes the results directory: ${path}`);
    return full;
  };
  return {
    async putIfAbsent(path, data) {
      const full = inside(path);
      await mkdir(dirname(full), { recursive: true });
      const temp = join(dirname(full), `.tmp-${randomBytes(6).toString('hex')}`);
      await writeFile(temp, data);
      try {
        await link(temp, full);
        return { uri: pathToFileURL(full).href, created: true };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { uri: pathToFileURL(full).href, created: false };
        throw err;
      } finally {
        await unlink(temp).catch(() => undefined);
      }
    },
    async get(uri) {
      const full = inside(uri.startsWith('file:') ? fileURLToPath(uri) : uri);
      try {
        return await readFile(full);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}
