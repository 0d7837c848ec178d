/**
 * Reads the webhook secret where a source says (shared/modal/secret-source.ts): an environment
 * variable or a file in this process, a Secret Manager version through gcloud's own argument vector.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gcloudReadArgs, type SecretSource } from '../../shared/modal/secret-source';

export function readSecret(source: SecretSource): string {
  switch (source.kind) {
    case 'env': {
      const value = process.env[source.name];
      if (!value) throw new Error(`${source.name} is not set in this shell`);
      return value.trim();
    }
    case 'file':
      return readFileSync(source.path, 'utf8').trim();
    case 'gcloud':
      return execFileSync('gcloud', gcloudReadArgs(source), {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim();
  }
}
