import { defineErrors } from '../services/kit/index.ts';

/** The edge's own errors; routes and services bring theirs. */
export const EdgeErrors = defineErrors({
  UNAUTHENTICATED: { status: 401, message: 'A valid access token is required' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large to forward' },
  BAD_HEADER: { status: 400, message: 'A request header holds characters HTTP does not allow' },
  FORBIDDEN: { status: 403, message: 'This needs a role you do not have' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; slow down' },
  SLOT_MOVING: { status: 503, message: 'Your data is moving to another cell; retry in a moment' },
  CELL_UNAVAILABLE: { status: 503, message: 'Your cell is temporarily unavailable; retry shortly' },
  UPSTREAM_UNAVAILABLE: {
    status: 503,
    message: 'The service behind this route is unavailable; retry shortly',
  },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The service behind this route did not answer in time' },
  BAD_GATEWAY: { status: 502, message: 'The service behind this route answered badly' },
});
