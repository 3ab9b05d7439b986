/**
 * The scripts on a real Redis Cluster (3 masters + 3 replicas: deploy/local's RedisCluster, private to this file),
 * through ioredis Cluster clients: scripts loaded on every master; the purchase hammer and the flash-sale property
 * with the sale's pool ({fs:<sale>}) and its cells ({c<cell>}) on different masters, so every quota transfer
 * crosses masters through lua/quota-transfer.ts; NOSCRIPT after a SCRIPT FLUSH of every master and after a
 * failover to a replica; and the cluster cell map (cells/maps/local-cluster.json) served by ShardClients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { slotOf } from '../cells/hash.ts';
import { CellErrors, CellRouter, LOCAL_CELL_MAP_PATH, loadCellMap, ShardClients } from '../cells/index.ts';
import { createLogger } from '../services/kit/index.ts';
import { readSaleLedger } from './admin.ts';
import { saleCellKeys } from './keys.ts';
import { createScripts, loadScripts, masterNodes, SCRIPT_NAMES, type TitanScripts } from './loader.ts';
import { transferQuota } from './quota-transfer.ts';
import { runPurchaseHammer } from './test-purchase-hammer.ts';
import { checkSaleAgainstModel } from './test-sale-model.ts';
import { type PrivateCluster, setupSale, startPrivateCluster, uid } from './test-support.ts';

let cluster: PrivateCluster;
let main: TitanScripts;
let connections: TitanScripts[] = [];
/** The masters' client ports and slot ranges, from CLUSTER SLOTS. */
let masters: { port: number; from: number; to: number }[] = [];

before(async () => {
  cluster = await startPrivateCluster();
  main = await loadScripts(cluster.client());
  connections = Array.from({ length: 4 }, () => createScripts(cluster.client()));
  const slots = await main.redis.cluster('SLOTS');
  masters = slots
    .map(([from, to, master]) => ({ port: master![1], from, to }))
    .sort((a, b) => a.from - b.from);
});
after(async () => {
  await Promise.all([main, ...connections].map((s) => s.redis.quit()));
  await cluster?.stop();
});

const masterOf = (tag: string): number => {
  const slot = slotOf(tag);
  return masters.find((m) => slot >= m.from && slot <= m.to)!.port;
};
/** A fresh id whose hash tag (`{c<id>}`, or `{fs:<id>}` for a sale) lives on the given master. */
function idOn(port: number, kind: 'cell' | 'sale'): string {
  for (;;) {
    const id = uid(kind === 'cell' ? 'c' : 's');
    if (masterOf(kind === 'cell' ? `c${id}` : `fs:${id}`) === port) return id;
  }
}
/** A direct connection to one node (admin commands). */
const node = (port: number) => new Redis({ host: '127.0.0.1', port, lazyConnect: true });

test('a 3-master cluster with a replica each; slots are CRC16 like cells/hash; scripts loaded on every master', async () => {
  assert.equal(masters.length, 3);
  const id = uid('c');
  assert.equal(await main.redis.cluster('KEYSLOT', saleCellKeys(id, 's1').sale), slotOf(`c${id}`));
  const nodes = await masterNodes(main.redis);
  assert.deepEqual(nodes.map((n) => n.options.port).sort(), masters.map((m) => m.port).sort());
  const shas = SCRIPT_NAMES.map((n) => main.shas[n]);
  for (const n of nodes)
    assert.deepEqual(
      await n.script('EXISTS', ...shas),
      shas.map(() => 1),
    );
});

test('hammer: three sales at once, each with its pool, its cell under fire and a second cell on three different masters', async () => {
  const ports = masters.map((m) => m.port);
  await Promise.all(
    ports.map((_, i) =>
      runPurchaseHammer({
        main,
        connections,
        attempts: 20_000,
        users: 5_000,
        units: 100,
        limit: 2,
        saleId: idOn(ports[i]!, 'sale'),
        cell: idOn(ports[(i + 1) % 3]!, 'cell'),
        otherCell: idOn(ports[(i + 2) % 3]!, 'cell'),
      }),
    ),
  );
});

test('flash-sale property: pool and cell on different masters, transfers through a resolver of two cluster clients', async () => {
  const [poolSide, cellSide] = [connections[0]!, connections[1]!];
  let run = 0;
  await checkSaleAgainstModel(
    {
      scripts: (side) => (side === 'pool' ? poolSide : cellSide),
      redis: main.redis,
      ids: () => {
        // rotate placements over the masters; pool and cell never share one
        const i = run++ % 3;
        return { saleId: idOn(masters[i]!.port, 'sale'), cell: idOn(masters[(i + 1) % 3]!.port, 'cell') };
      },
    },
    40,
  );
});

describe('NOSCRIPT', () => {
  test('after SCRIPT FLUSH on every master, purchases and cross-master transfers still run, and re-cache', async () => {
    const saleId = idOn(masters[0]!.port, 'sale');
    const cell = idOn(masters[1]!.port, 'cell');
    const sale = await setupSale(main, { initial: 10, quota: 4, perUserLimit: 2, saleId, cell });
    for (const n of await masterNodes(main.redis)) assert.equal(await n.script('FLUSH'), 'OK');
    const exists = async (port: number, name: (typeof SCRIPT_NAMES)[number]) =>
      (await masterNodes(main.redis)).find((n) => n.options.port === port)!.script('EXISTS', main.shas[name]);
    assert.deepEqual(await exists(masters[1]!.port, 'flash-sale-purchase'), [0]);

    const [r] = await main.flashSalePurchase({
      cell,
      saleId,
      now: 1_500_000,
      requests: [{ userId: 'ann', quantity: 2, idempotencyKey: 'k1' }],
    });
    assert.equal(r?.status, 'reserved');
    assert.deepEqual(
      await transferQuota(main, {
        saleId,
        transferId: 'more',
        amount: 6,
        from: 'pool',
        to: { cell },
        now: 1,
      }),
      { status: 'DONE' },
    );
    assert.deepEqual(await exists(masters[1]!.port, 'flash-sale-purchase'), [1]);
    assert.deepEqual(await exists(masters[0]!.port, 'quota-debit'), [1]);
    assert.deepEqual(await exists(masters[1]!.port, 'quota-credit'), [1]);
    const l = await readSaleLedger(main.redis, sale.saleId, [cell]);
    assert.deepEqual([l.pool, l.cells[cell]?.quota, l.reserved, l.balanced], [0, 8, 2, true]);
  });

  test('after a failover to a replica (which never had the scripts) the data is there and calls run again', async () => {
    const m = masters[2]!;
    const cell = idOn(m.port, 'cell');
    const sale = await setupSale(main, { initial: 10, quota: 10, perUserLimit: 2, cell });
    const buy = (userId: string, key: string) =>
      main.flashSalePurchase({
        cell,
        saleId: sale.saleId,
        now: 1_500_000,
        requests: [{ userId, quantity: 1, idempotencyKey: key }],
      });
    const [first] = await buy('ann', 'k1');
    assert.equal(first?.status, 'reserved');

    const master = node(m.port);
    const nodes = (await master.cluster('NODES')) as string;
    const myId = nodes
      .split('\n')
      .find((l) => l.includes('myself'))!
      .split(' ')[0];
    const replicaLine = nodes.split('\n').find((l) => l.split(' ')[3] === myId)!;
    const replicaPort = Number(replicaLine.split(' ')[1]!.split(/[:@]/)[1]);
    const replica = node(replicaPort);
    try {
      assert.equal(await master.wait(1, 5000), 1, 'the replica has every write');
      assert.deepEqual(await replica.script('EXISTS', main.shas['flash-sale-purchase']), [0]);
      assert.equal(await replica.cluster('FAILOVER'), 'OK');
      for (let i = 0; ; i++) {
        const [role] = (await replica.role()) as [string];
        if (role === 'master') break;
        assert.ok(i < 200, 'the replica took over within 10 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      // the client follows MOVED to the new master; NOSCRIPT there is answered by EVAL
      assert.deepEqual(await buy('ann', 'k1'), [{ status: 'duplicate', original: first }]);
      assert.equal((await buy('bob', 'k2'))[0]?.status, 'reserved');
      assert.deepEqual(await replica.script('EXISTS', main.shas['flash-sale-purchase']), [1]);
      assert.deepEqual(await main.redis.hmget(saleCellKeys(cell, sale.saleId).sale, 'q', 'r'), ['8', '2']);
    } finally {
      master.disconnect();
      replica.disconnect();
    }
  });
});

test('the cluster cell map (local-cluster.json) with the seeds placeholder runs through ShardClients', async () => {
  const map = loadCellMap(LOCAL_CELL_MAP_PATH.replace(/local\.json$/, 'local-cluster.json'), {
    env: { TITAN_REDIS_CLUSTER_SEEDS: cluster.seeds.join(',') },
  });
  const router = new CellRouter(map);
  const shards = new ShardClients(createLogger({ name: 'cluster-test', level: 'silent' }));
  try {
    assert.equal(shards.clientFor(router, 0).isCluster, true);
    assert.throws(
      () => shards.redisFor(router, 0),
      (err: unknown) => CellErrors.CELL_SHARD_UNSUPPORTED.is(err),
    );
    assert.deepEqual(await shards.pingAll(router), { up: 1, down: [] });
    const sale = await setupSale(shards.scriptsFor(router, 1), {
      initial: 5,
      quota: 5,
      perUserLimit: 1,
      cell: '1',
    });
    const [r] = await shards.scriptsFor(router, 1).flashSalePurchase({
      cell: '1',
      saleId: sale.saleId,
      now: 1_500_000,
      requests: [{ userId: 'ann', quantity: 1, idempotencyKey: 'k' }],
    });
    assert.equal(r?.status, 'reserved');
  } finally {
    await shards.close();
  }
});
