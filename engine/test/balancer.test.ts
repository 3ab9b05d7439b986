// The engine's Piscina balancer and its settings checks: tasks that carry an AbortSignal (every engine task carries the task timeout)
// still share a thread up to concurrentTasksPerWorker. Piscina's default gives them a thread each.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Piscina } from 'piscina';
import { sharedThreadBalancer, WORKER_EXEC_ARGV } from '../pool.ts';
import { testEngine, testMap } from './support.ts';

async function mostAtOnce(balanced: boolean): Promise<number> {
  const piscina = new Piscina({
    filename: new URL('./overlap.worker.ts', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 4,
    atomics: 'disabled',
    ...(balanced ? { loadBalancer: sharedThreadBalancer(4) } : {}),
    ...(WORKER_EXEC_ARGV === undefined ? {} : { execArgv: WORKER_EXEC_ARGV }),
  });
  try {
    await piscina.run(0);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => piscina.run(300, { signal: AbortSignal.timeout(30_000) })),
    );
    return Math.max(...(answers as number[]));
  } finally {
    await piscina.destroy();
  }
}

it('abortable tasks share a thread up to concurrentTasksPerWorker (Piscina alone runs them one by one)', async () => {
  assert.equal(await mostAtOnce(false), 1, "Piscina's own balancer: one abortable task per thread");
  assert.equal(await mostAtOnce(true), 4, 'the engine balancer: four at once on the one thread');
});

it('refuses a WAIT timeout that a worker could not wait out within its budget per task', () => {
  const { map } = testMap({});
  assert.throws(
    () => testEngine(map, { taskTimeoutMs: 5000, replicaWait: { replicas: 1, timeoutMs: 3000 } }),
    (err: Error & { code?: string }) => err.code === 'ENGINE_BAD_REQUEST' && /2500 ms/.test(err.message),
  );
  const { engine } = testEngine(map, { taskTimeoutMs: 5000, replicaWait: { replicas: 1, timeoutMs: 1500 } });
  return engine.close();
});
