/** The auth service's public face. */
import { fileURLToPath } from 'node:url';

export { type AuthConfig, loadAuthConfig } from './config.ts';
export { DEFAULT_SCRYPT, hashPassword, type ScryptParams, verifyPassword } from './domain/password.ts';
export { matchTotp, stepAt, totpAt } from './domain/totp.ts';
export { AuthErrors } from './errors.ts';
export { type AuthRouteDeps, registerAuthRoutes } from './routes.ts';
export { AuthService, type AuthSettings, type TokenPair } from './service.ts';
export { SigningKeys } from './signing-keys.ts';
export { AuthStore } from './store.ts';
export { DEFAULT_THROTTLE, LoginThrottle, type ThrottleLimits } from './throttle.ts';
export {
  type AccessTokenVerifier,
  bearerToken,
  createAccessTokenVerifier,
  type VerifierOptions,
} from './verifier.ts';

export const AUTH_MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
export { type AuthAppDeps, createAuthApp, ensureBootstrapAdmin } from './app.ts';
export { seedBootstrapAdmin } from './seed.ts';
