// The short version of `npm run chaos`'s process faults: worker threads, an edge process and the relay killed
// under a paced load of 2,000 purchase attempts; then the post-run checks read from Redis, the bus and the
// control plane (test-rig.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useChaosRig } from './test-rig.ts';

const t = useChaosRig();

describe('processes killed under load: no oversell, nothing acknowledged lost, the ledger balances', () => {
  test('worker threads killed in the middle of batches: callers are told to retry and their retries land once', async () => {
    const r = await t.run('worker-kill');
    assert.equal(r.check.usersAboveLimit, 0);
    assert.ok((r.retries.BUSY ?? 0) > 0, `the kills were felt: ${JSON.stringify(r.retries)}`);
  });

  test('an edge process killed: the other serves, clients retry the same key on a new connection', async () => {
    const r = await t.run('edge-kill');
    assert.equal(r.check.usersAboveLimit, 0);
    assert.equal(t.rig.edgePids().length, 2, 'the supervisor replaced it');
    assert.ok(!t.rig.edgePids().includes(Number(r.fault.notes.killedPid)));
    assert.equal(r.finals.SALE_NOT_FOUND, undefined, 'a fresh edge process knows the live sale');
  });

  test('the relay killed and restarted: every acknowledged reservation reaches the bus once', async () => {
    const r = await t.run('relay-kill');
    assert.equal(r.check.usersAboveLimit, 0);
    assert.ok(Number(r.fault.notes.relayCatchUpMs) > 0);
  });
});
