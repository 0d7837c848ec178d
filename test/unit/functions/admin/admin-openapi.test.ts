/** docs/openapi.yaml describes exactly the routes the admin function serves. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAdminHandler } from '../../../../functions/admin/handler';
import { loadAdminConfig } from '../../../../shared/config/config';
import { memoryLogger } from '../../../../shared/observability/log';

it('documents every admin route, and no other', () => {
  const handler = createAdminHandler({
    config: loadAdminConfig({ MODAL_WEBHOOK_SECRET: 'a-long-enough-secret-value' }),
    store: {} as never,
    operator: {} as never,
    completions: {} as never,
    topicReachable: async () => true,
    fetch,
    clock: () => new Date(),
    logger: memoryLogger(),
    version: 'test',
  });
  const yaml = readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'openapi.yaml'), 'utf8');
  const documented: string[] = [];
  let path = '';
  for (const line of yaml.split('\n')) {
    const p = /^ {2}(\/[^:]+):$/.exec(line);
    if (p) path = p[1]!;
    const m = /^ {4}(get|post|put|delete|patch):$/.exec(line);
    if (m && path) documented.push(`${m[1]!.toUpperCase()} ${path}`);
  }
  expect(documented.sort()).toEqual([...handler.routes].sort());
});
