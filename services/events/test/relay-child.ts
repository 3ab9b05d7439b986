/**
 * A cell outbox relay in a process of its own, for the crash test. argv: <cell> <topic> [killAfter]
 * With killAfter, the process SIGKILLs itself right after the bus acknowledged the batch that reaches
 * that many entries, BEFORE the cursor moves: the worst moment to die.
 */
import { createRedis } from '../../kit/index.ts';
import { stackSetting } from '../../kit/testing.ts';
import { CellOutboxRelay } from '../cell-outbox-relay.ts';
import { RedisStreamsBus } from '../redis-streams-bus.ts';

const [cell, topic, killAfter] = process.argv.slice(2) as [string, string, string | undefined];
const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
const bus = new RedisStreamsBus(redis);
let published = 0;
const relay = new CellOutboxRelay({
  cell: Number(cell),
  redis,
  bus,
  topicOf: () => topic,
  batchSize: 250,
  pollMs: 10,
  leaseMs: 1000,
  onPublished: (n) => {
    published += n;
    if (killAfter && published >= Number(killAfter)) process.kill(process.pid, 'SIGKILL');
  },
});
relay.start();
