/**
 * `npm start`: the whole platform on one machine. Starts the local stack (installing its servers
 * when missing), applies every service's migrations, seeds the demo data, starts the platform's
 * processes, waits until they are ready and prints where they are. Ctrl-C (or SIGTERM) stops the
 * processes gracefully, then the stack; data stays in TITAN_DATA_DIR (`npm run stack reset` wipes it).
 * TITAN_KEEP_STACK=1 leaves the stack servers running after exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { createLogger, createPool, loadEnvConfig, migrate, Port } from '../../services/kit/index.ts';
import { SERVICES } from '../../services/registry.ts';
import { waitFor } from './os-tools.ts';
import { localSecrets } from './secrets.ts';
import { devStackSettings } from './settings.ts';
import { LocalStack, stackEnv } from './stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const log = createLogger({ name: 'platform' });
const config = loadEnvConfig(
  Type.Object({
    TITAN_EDGE_PORT: Port(8080),
    TITAN_KEEP_STACK: Type.Boolean({ default: false }),
  }),
);

interface PlatformProcess {
  name: string;
  entry: string;
  port: number;
}

function portOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = Number(env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

/** The services with a process of their own, then the edge in front of them. */
function platformProcesses(env: NodeJS.ProcessEnv): PlatformProcess[] {
  const services = SERVICES.filter((s) => s.entry && s.port).map((s) => ({
    name: s.name,
    entry: s.entry!,
    port: portOf(env, s.port!.env, s.port!.default),
  }));
  return [...services, { name: 'edge', entry: 'edge/main.ts', port: config.TITAN_EDGE_PORT }];
}

/** Every process learns where the others are from the same variables. */
function serviceUrls(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of SERVICES) {
    if (!s.port) continue;
    const port = portOf(env, s.port.env, s.port.default);
    out[s.port.env] = String(port);
    out[`TITAN_${s.name.toUpperCase().replaceAll('-', '_')}_URL`] = `http://127.0.0.1:${port}`;
  }
  out.TITAN_AUTH_JWKS_URL = `${out.TITAN_AUTH_URL}/v1/auth/jwks`;
  return out;
}

const stack = new LocalStack(devStackSettings());
const children = new Map<string, ChildProcess>();
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise(() => {});
  stopping = true;
  log.info('stopping the platform');
  await Promise.all(
    [...children].map(
      ([name, child]) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => {
            clearTimeout(force);
            log.info({ process: name }, 'stopped');
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  if (!config.TITAN_KEEP_STACK) await stack.stop().catch((err) => log.error({ err }, 'stack stop failed'));
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  if (process.channel) process.once('disconnect', () => void stopAll(1)); // started by a test or supervisor that died
  const info = await stack.start();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...stackEnv(info),
    ...localSecrets(info.dataDir),
    TITAN_EDGE_PORT: String(config.TITAN_EDGE_PORT),
  };
  Object.assign(env, serviceUrls(env));
  // Operators change the cell map at run time (titan cells ...): they edit a copy in the data dir,
  // never the repository's default map. In cluster mode the cells live on the Redis Cluster (a map of
  // its own, so switching modes never reuses the other mode's copy).
  if (!env.TITAN_CELL_MAP) {
    const name = info.redisClusterSeeds ? 'local-cluster' : 'local';
    const copy = join(info.dataDir, name === 'local' ? 'cell-map.json' : `cell-map-${name}.json`);
    if (!existsSync(copy)) copyFileSync(join(root, `cells/maps/${name}.json`), copy);
    env.TITAN_CELL_MAP = copy;
  }
  const processes = platformProcesses(env);

  const pool = createPool(info.databaseUrl, { max: 2, name: 'platform' });
  try {
    for (const service of SERVICES) {
      const result = await migrate(pool, service.name, service.migrations);
      if (result.applied.length) log.info({ service: service.name, applied: result.applied }, 'migrated');
    }
    for (const service of SERVICES) {
      const seeded = await service.seed?.({ pool, redisUrl: info.redisUrl, env });
      if (seeded) log.info({ service: service.name, seeded }, 'seeded');
    }
  } finally {
    await pool.end();
  }

  for (const p of processes) {
    const child = spawn(process.execPath, ['--import', 'tsx', p.entry], {
      cwd: root,
      env,
      // The IPC channel lets a child notice when the platform dies, so none is left orphaned.
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    children.set(p.name, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ process: p.name, code, signal }, 'process exited unexpectedly; stopping the platform');
      void stopAll(1);
    });
  }
  for (const p of processes) {
    const ready = `http://127.0.0.1:${p.port}/ready`;
    await waitFor(
      `${p.name} to be ready`,
      async () => (await fetch(ready).catch(() => undefined))?.ok === true,
      60_000,
    );
  }
  const lines = [
    '',
    'Titan Commerce is running.',
    `  edge         http://127.0.0.1:${config.TITAN_EDGE_PORT}  (/health, /ready, /metrics)`,
    ...processes
      .filter((p) => p.name !== 'edge')
      .map((p) => `  ${p.name.padEnd(12)} http://127.0.0.1:${p.port}`),
    `  redis        ${info.redisUrl}`,
    `  postgres     ${info.databaseUrl}`,
    ...(info.kafkaBrokers ? [`  kafka        ${info.kafkaBrokers.join(',')}`] : []),
    `  data         ${info.dataDir}`,
    ...SERVICES.flatMap((s) => s.banner?.(env) ?? []),
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: Error & { code?: string }) => {
  log.fatal({ err }, `start failed: ${err.code ? `${err.code}: ` : ''}${err.message}`);
  void stopAll(1);
});
