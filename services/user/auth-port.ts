/** What the user service needs from authentication: the verified identity of a request. */
import type { Role } from './domain/profile.ts';

export interface AccessClaims {
  userId: string;
  roles: Role[];
  expiresAt: number;
}
