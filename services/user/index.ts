/** The user service's public face. */
import { fileURLToPath } from 'node:url';

export type { AccessClaims } from './auth-port.ts';
export { loadUserConfig, piiKeyringFromEnv } from './config.ts';
export { PiiCipher, type PiiKeyring, parseKeyring } from './domain/pii.ts';
export { isRole, normalizeEmail, type Profile, ROLES, type Role } from './domain/profile.ts';
export { UserErrors } from './errors.ts';
export { registerUserRoutes, type UserRouteDeps } from './routes.ts';
export { type ProfilePatch, UserStore } from './store.ts';

export const USER_MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
export { createUserApp, type UserAppDeps } from './app.ts';
