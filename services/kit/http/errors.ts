import { defineErrors } from '../errors.ts';

/** Errors of the HTTP layer itself; routes bring their own catalogues. */
export const HttpErrors = defineErrors({
  NOT_FOUND: { status: 404, message: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request body did not arrive in time' },
  BODY_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Request body must be application/json' },
  MALFORMED_JSON: { status: 400, message: 'Request body is not valid JSON' },
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  VALIDATION_FAILED: { status: 400, message: 'Request does not match the schema' },
  SHUTTING_DOWN: { status: 503, message: 'Server is shutting down; retry on another instance' },
  INTERNAL: { status: 500, message: 'Internal error' },
});
