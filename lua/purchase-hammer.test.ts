import { after, before, test } from 'node:test';
import { createScripts, type TitanScripts } from './loader.ts';
import { runPurchaseHammer } from './test-purchase-hammer.ts';
import { connect, connectScripts } from './test-support.ts';

const CONNECTIONS = 8;
const ATTEMPTS = 20_000;
const USERS = 5_000;
const UNITS = 100;
const LIMIT = 2;

let main: TitanScripts;
let pool: TitanScripts[] = [];
before(async () => {
  main = await connectScripts();
  pool = Array.from({ length: CONNECTIONS }, () => createScripts(connect()));
});
after(async () => {
  await Promise.all([main, ...pool].map((s) => s.redis.quit()));
});

test(`hammer: ${ATTEMPTS} attempts by ${USERS} users on ${CONNECTIONS} connections for ${UNITS} units, limit ${LIMIT}`, async () => {
  await runPurchaseHammer({
    main,
    connections: pool,
    attempts: ATTEMPTS,
    users: USERS,
    units: UNITS,
    limit: LIMIT,
  });
});
