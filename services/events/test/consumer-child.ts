/**
 * A group member that dies holding a message: it records each delivered event id in a Redis list, then
 * never finishes the handler, so nothing is committed. The contract suite SIGKILLs it.
 * argv: <redis|kafka> <topic> <group> <record list key>
 */
import { createRedis } from '../../kit/index.ts';
import { stackSetting } from '../../kit/testing.ts';
import { type BusKind, makeBus } from './buses.ts';

const [kind, topic, group, listKey] = process.argv.slice(2) as [BusKind, string, string, string];
const redis = createRedis(stackSetting('TITAN_REDIS_URL'));
const bus = makeBus(kind);
await bus.subscribe({
  topic,
  group,
  handler: async (event) => {
    await redis.rpush(listKey, event.id);
    await new Promise(() => {}); // hangs: the member "dies" with the message in hand
  },
});
await redis.rpush(`${listKey}:ready`, '1');
