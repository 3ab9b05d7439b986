import { defineErrors } from '../kit/index.ts';

export const UserErrors = defineErrors({
  USER_NOT_FOUND: { status: 404, message: 'No such user' },
  INVALID_EMAIL: { status: 400, message: 'Email address is not valid' },
  EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists' },
  INVALID_ROLE: { status: 400, message: 'Unknown role' },
  FORBIDDEN: { status: 403, message: 'This needs a role you do not have' },
  PII_KEY_UNKNOWN: { status: 500, message: 'Personal data was encrypted with a key that is not configured' },
  PII_CONFIG_INVALID: { status: 500, message: 'Personal-data encryption keys are misconfigured' },
});
