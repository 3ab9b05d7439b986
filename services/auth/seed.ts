/** Demo seed: the operator account of a fresh local install (from TITAN_BOOTSTRAP_ADMIN_*). */
import type { Pool } from '../kit/index.ts';
import { withTransaction } from '../kit/index.ts';
import { PiiCipher, piiKeyringFromEnv, UserStore } from '../user/index.ts';
import { loadAuthConfig } from './config.ts';
import { hashPassword } from './domain/password.ts';
import { AuthStore } from './store.ts';

export async function seedBootstrapAdmin(pool: Pool, env: NodeJS.ProcessEnv) {
  const config = loadAuthConfig(env);
  const users = new UserStore(pool, new PiiCipher(piiKeyringFromEnv(env)));
  const email = config.TITAN_BOOTSTRAP_ADMIN_EMAIL;
  if (await users.findIdByEmail(email)) return { operator: email, created: false };
  const hash = await hashPassword(config.TITAN_BOOTSTRAP_ADMIN_PASSWORD, {
    logN: config.TITAN_SCRYPT_LOG_N,
    r: 8,
    p: 1,
  });
  await withTransaction(pool, async (db) => {
    const userId = await users.create(email, ['buyer', 'operator', 'admin'], db);
    await new AuthStore(pool).setPassword(userId, hash, db);
  });
  return { operator: email, created: true };
}
