/**
 * `titan`: the operators' command line (`npm run titan -- cells list`). It talks to the edge's admin
 * API as an operator: logs in with --email/--password (defaults TITAN_BOOTSTRAP_ADMIN_EMAIL /
 * TITAN_BOOTSTRAP_ADMIN_PASSWORD, then the demo operator) unless TITAN_TOKEN holds an access token.
 * Data goes to stdout, diagnostics to stderr (`code: message`); any failure exits with code 1.
 */
import { Command } from '@commander-js/extra-typings';
import { addCellsCommands } from '../../cells/cli.ts';
import { addEventsCommands } from '../../services/events/cli.ts';
import { addFlashSaleCommands } from '../../services/flash-sale/cli.ts';
import { isTitanError } from '../../services/kit/index.ts';
import { addDeployCommands } from '../k8s/cli.ts';
import { AdminClient } from './client.ts';

const env = process.env;

const program = new Command('titan')
  .description('Operate Titan Commerce through the edge admin API')
  .option('--edge <url>', 'edge base URL (env TITAN_EDGE_URL)', env.TITAN_EDGE_URL || 'http://127.0.0.1:8080')
  .option('--email <email>', 'operator email (env TITAN_BOOTSTRAP_ADMIN_EMAIL)')
  .option('--password <password>', 'operator password (env TITAN_BOOTSTRAP_ADMIN_PASSWORD)')
  .option('--json', 'print JSON for machines instead of tables')
  .showHelpAfterError('(add --help for usage)');

let client: AdminClient | undefined;
function api(): AdminClient {
  const o = program.opts();
  const explicit = o.email !== undefined || o.password !== undefined;
  client ??= new AdminClient({
    edge: o.edge,
    credentials: {
      // Asking for an account on the command line wins over a token in the environment.
      token: explicit ? undefined : env.TITAN_TOKEN || undefined,
      email: o.email ?? (env.TITAN_BOOTSTRAP_ADMIN_EMAIL || 'operator@titan.local'),
      password: o.password ?? (env.TITAN_BOOTSTRAP_ADMIN_PASSWORD || 'titan-operator-demo'),
    },
  });
  return client;
}

const output = { api, json: () => program.opts().json === true };
addCellsCommands(program, output);
addFlashSaleCommands(program, output);
addEventsCommands(program, output);
addDeployCommands(program);

try {
  await program.parseAsync();
} catch (err) {
  console.error(isTitanError(err) ? `${err.code}: ${err.message}` : `titan: ${(err as Error).message}`);
  process.exitCode = 1;
}
