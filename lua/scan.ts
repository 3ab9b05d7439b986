/** SCAN over a single server or a whole Redis Cluster (SCAN is per node, so a Cluster is scanned master by master). */
import { masterNodes, type RedisClient } from './loader.ts';

/** Every key matching `pattern` (a SCAN MATCH glob). */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of await masterNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}
