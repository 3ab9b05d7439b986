/**
 * The edge process: the only thing clients talk to. With TITAN_EDGE_PROCESSES > 1 this process
 * supervises that many edge processes sharing the port (SO_REUSEPORT spreads connections across
 * them), restarting any that dies, and forwarding shutdown signals.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger, createMetrics, Health, Lifecycle } from '../services/kit/index.ts';
import { createEdge } from './app.ts';
import { loadEdgeConfig } from './config.ts';

const log = createLogger({ name: 'edge' });

async function serve(): Promise<void> {
  const config = loadEdgeConfig();
  const metrics = createMetrics({ process: 'edge' });
  const health = new Health();
  const lifecycle = new Lifecycle({ log, timeoutMs: config.TITAN_SHUTDOWN_TIMEOUT_MS + 1000 });
  const edge = await createEdge({ config, log, metrics, health });
  lifecycle.onShutdown('edge', () => edge.close());
  if (config.TITAN_CHAOS_HOOKS) {
    process.on('SIGUSR2', () =>
      log.warn({ cell: edge.engine.killWorker('flashSale') }, 'chaos: worker killed'),
    );
  }
  await edge.start(config.TITAN_EDGE_PORT, config.TITAN_EDGE_HOST);
}

function supervise(count: number): void {
  const self = fileURLToPath(import.meta.url);
  const children = new Set<ReturnType<typeof fork>>();
  let stopping = false;
  const start = (n: number) => {
    const child = fork(self, [], {
      env: { ...process.env, TITAN_EDGE_WORKER: String(n) },
      execArgv: process.execArgv,
    });
    children.add(child);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (stopping) {
        if (children.size === 0) process.exit(0);
        return;
      }
      log.error({ worker: n, code, signal }, 'edge process died; starting a new one');
      setTimeout(() => start(n), 200);
    });
  };
  for (let n = 1; n <= count; n++) start(n);
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, processes: children.size }, 'stopping edge processes');
    for (const c of children) c.kill('SIGTERM');
    if (children.size === 0) process.exit(0);
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
  if (process.channel) process.once('disconnect', () => stop('SIGTERM'));
}

try {
  const processes = loadEdgeConfig().TITAN_EDGE_PROCESSES;
  if (processes > 1 && !process.env.TITAN_EDGE_WORKER) supervise(processes);
  else await serve();
} catch (err) {
  log.fatal({ err }, 'edge failed to start');
  process.exit(1);
}
