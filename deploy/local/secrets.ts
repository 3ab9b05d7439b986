/**
 * Local secrets: the personal-data keys of a local install, generated once into the data dir so data
 * stays readable across restarts. Values already set in the environment win (bring your own keys).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const NAMES = [
  'TITAN_PII_KEYS',
  'TITAN_PII_ACTIVE_KEY',
  'TITAN_BLIND_INDEX_KEY',
  'TITAN_POW_SECRET',
] as const;

export function localSecrets(dataDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const file = join(dataDir, 'secrets.json');
  if (!existsSync(file)) {
    const generated = {
      TITAN_PII_KEYS: `local1:${randomBytes(32).toString('base64')}`,
      TITAN_PII_ACTIVE_KEY: 'local1',
      TITAN_BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
      TITAN_POW_SECRET: randomBytes(24).toString('base64url'),
    };
    writeFileSync(file, `${JSON.stringify(generated, null, 2)}\n`, { mode: 0o600 });
  }
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const out: Record<string, string> = {};
  // Secrets added in a later version are generated into an existing file on first use.
  let changed = false;
  for (const name of NAMES) {
    if (stored[name] === undefined) {
      stored[name] = randomBytes(24).toString('base64url');
      changed = true;
    }
    out[name] = env[name] ?? stored[name]!;
  }
  if (changed) writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  return out;
}
