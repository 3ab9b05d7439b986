#!/usr/bin/env node
// Installs npm dependencies when they are missing or older than package-lock.json.
// Plain Node with no dependencies: it runs before anything is installed (npm's prestart/pretest).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 10)) {
  console.error(`Titan needs Node.js 20.10 or newer; this is ${process.versions.node}.`);
  process.exit(1);
}

const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  console.error('[titan] installing npm dependencies (npm ci)...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('[titan] npm ci failed; see the output above.');
    process.exit(r.status ?? 1);
  }
}
