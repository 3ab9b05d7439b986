/**
 * Login throttling in Redis: failed attempts are counted per account (by the email's blind index,
 * whether or not the account exists, so a lockout reveals nothing) and per client IP, in fixed
 * windows. Past the limit, logins are refused with LOGIN_LOCKED until the window ends.
 */
import type { Redis } from '../kit/index.ts';
import { AuthErrors } from './errors.ts';

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perAccount: 5, perIp: 50, windowMs: 15 * 60_000 };

export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
    private readonly prefix = 'auth:fail',
  ) {}

  #keys(account: string, ip: string) {
    return [`${this.prefix}:acct:{${account}}`, `${this.prefix}:ip:{${ip}}`] as const;
  }

  /** LOGIN_LOCKED (with retryAfterSeconds in details) when either counter is at its limit. */
  async assertAllowed(account: string, ip: string): Promise<void> {
    const [acctKey, ipKey] = this.#keys(account, ip);
    const [acct, ipCount, acctTtl, ipTtl] = await Promise.all([
      this.redis.get(acctKey),
      this.redis.get(ipKey),
      this.redis.pttl(acctKey),
      this.redis.pttl(ipKey),
    ]);
    const blockedMs = Math.max(
      Number(acct ?? 0) >= this.limits.perAccount ? acctTtl : 0,
      Number(ipCount ?? 0) >= this.limits.perIp ? ipTtl : 0,
    );
    if (blockedMs > 0) {
      throw AuthErrors.LOGIN_LOCKED(undefined, { retryAfterSeconds: Math.ceil(blockedMs / 1000) });
    }
  }

  async recordFailure(account: string, ip: string): Promise<void> {
    const [acctKey, ipKey] = this.#keys(account, ip);
    await Promise.all(
      [acctKey, ipKey].map((key) =>
        this.redis.multi().incr(key).pexpire(key, this.limits.windowMs, 'NX').exec(),
      ),
    );
  }

  async recordSuccess(account: string): Promise<void> {
    await this.redis.del(this.#keys(account, '')[0]);
  }
}
