import { defineErrors } from '../kit/index.ts';

export const AuthErrors = defineErrors({
  WEAK_PASSWORD: { status: 400, message: 'Password is too weak' },
  INVALID_CREDENTIALS: { status: 401, message: 'Email or password is wrong' },
  MFA_REQUIRED: { status: 401, message: 'A one-time code (totp) is required for this account' },
  INVALID_MFA_CODE: { status: 401, message: 'The one-time code is wrong or was already used' },
  INVALID_REFRESH_TOKEN: { status: 401, message: 'Refresh token is invalid or expired' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    message: 'Refresh token was already used; every session of this login was revoked',
  },
  UNAUTHENTICATED: { status: 401, message: 'A valid access token is required' },
  TOKEN_EXPIRED: { status: 401, message: 'Access token has expired' },
  LOGIN_LOCKED: { status: 429, message: 'Too many failed logins; try again later' },
  MFA_ALREADY_ENABLED: { status: 409, message: 'Two-factor authentication is already enabled' },
  MFA_NOT_ENROLLED: { status: 409, message: 'Start enrollment first (POST /v1/auth/mfa/enroll)' },
  INVALID_TOTP: { status: 400, message: 'The one-time code is wrong' },
  SIGNING_KEY_UNAVAILABLE: { status: 503, message: 'No signing key is available' },
});
