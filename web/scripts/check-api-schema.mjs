// Fails when src/api/schema.d.ts is not what openapi-typescript makes of docs/api/openapi.json
// (the document the server serves at /openapi.json): run `npm run gen:api` and commit both.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'hg-schema-'));
try {
  const fresh = join(dir, 'schema.d.ts');
  execFileSync(join(web, 'node_modules/.bin/openapi-typescript'), ['../docs/api/openapi.json', '-o', fresh], {
    cwd: web,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (readFileSync(fresh, 'utf8') !== readFileSync(join(web, 'src/api/schema.d.ts'), 'utf8')) {
    console.error('src/api/schema.d.ts is stale against docs/api/openapi.json: run `npm run gen:api`');
    process.exit(1);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
