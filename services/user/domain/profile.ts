/** User profile rules: email normalization, roles. */
import { UserErrors } from '../errors.ts';

export const ROLES = ['buyer', 'seller', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Profile {
  id: string;
  email: string | null;
  phone: string | null;
  displayName: string | null;
  preferences: Record<string, unknown>;
  roles: Role[];
  status: 'active' | 'erased';
  createdAt: string;
}

const EMAIL = /^[^\s@"<>()[\]\\,;:]+@[^\s@"<>()[\]\\,;:]+\.[^\s@"<>()[\]\\,;:]{2,}$/;

/** Lower-cased, trimmed email, or INVALID_EMAIL. */
export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw UserErrors.INVALID_EMAIL();
  return email;
}

export function isRole(r: string): r is Role {
  return (ROLES as readonly string[]).includes(r);
}
