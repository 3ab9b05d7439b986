/** Errors of the `titan` CLI itself; errors the admin API answers keep the API's code. */
import { defineErrors } from '../../services/kit/index.ts';

export const CliErrors = defineErrors({
  EDGE_UNREACHABLE: { status: 503, message: 'The edge cannot be reached' },
  EDGE_BAD_RESPONSE: { status: 502, message: 'The edge answered with something that is not the API' },
  CLI_USAGE: { status: 400, message: 'The command line is incomplete or wrong' },
});
