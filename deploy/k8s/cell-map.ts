/**
 * The cell map a cluster runs on when none is given: `cells` cells on one shard that is the shared
 * infrastructure. Its URLs are placeholders the processes expand from their environment (filled from
 * Secrets), so the map in the ConfigMap holds no credentials; with Redis Cluster seeds, those are the
 * shard's Redis.
 */
import { type CellMap, generateMap } from '../../cells/index.ts';

/** `${NAME}`: a cells/placeholders.ts placeholder, expanded by each process from its environment. */
const placeholder = (name: string) => `\${${name}}`;
export const SHARED_SHARD_REDIS_URL = placeholder('TITAN_REDIS_URL');
export const SHARED_SHARD_POSTGRES_URL = placeholder('TITAN_DATABASE_URL');

export function clusterCellMap(cells: number, options: { redisCluster?: readonly string[] } = {}): CellMap {
  const seeds = options.redisCluster ?? [];
  return generateMap({
    cells,
    shards: 1,
    name: `k8s-${cells}`,
    redis: () => (seeds.length > 0 ? { cluster: [...seeds] } : { url: SHARED_SHARD_REDIS_URL }),
    postgres: () => SHARED_SHARD_POSTGRES_URL,
  });
}
