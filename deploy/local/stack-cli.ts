/**
 * `npm run stack -- <start|stop|status|reset|env>`: manages the local stack (dev settings from
 * TITAN_DATA_DIR, TITAN_REDIS_PORT, TITAN_PG_PORT, TITAN_BUS / TITAN_KAFKA_MOCK, TITAN_REDIS_MODE /
 * TITAN_REDIS_CLUSTER_PORT).
 * Data goes to stdout, diagnostics to stderr; exits non-zero on failure.
 */
import { Command } from '@commander-js/extra-typings';
import { devStackSettings } from './settings.ts';
import { LocalStack, stackEnv } from './stack.ts';

const stack = () => new LocalStack(devStackSettings());

const program = new Command('stack').description(
  'Manage the local Redis / PostgreSQL / Kafka-protocol stack',
);
program
  .command('start')
  .description('start the stack (harmless when it already runs)')
  .option('--json')
  .action(async (o) => {
    const info = await stack().start();
    console.log(
      o.json
        ? JSON.stringify(info)
        : Object.entries(stackEnv(info))
            .map(([k, v]) => `${k}=${v}`)
            .join('\n'),
    );
  });
program
  .command('stop')
  .description('stop the stack, keeping its data')
  .action(async () => {
    await stack().stop();
  });
program
  .command('status')
  .description('show which servers run')
  .option('--json')
  .action(async (o) => {
    const statuses = await stack().status();
    if (o.json) console.log(JSON.stringify(statuses));
    else
      for (const s of statuses)
        console.log(
          `${s.name.padEnd(13)} ${s.running ? `running  pid ${s.pid}  ${s.address}` : 'stopped'}${s.detail ? `  (${s.detail})` : ''}`,
        );
    if (statuses.some((s) => s.name !== 'kafka' && !s.running)) process.exitCode = 3;
  });
program
  .command('reset')
  .description('stop the stack and wipe its data directory')
  .action(async () => {
    await stack().reset();
  });
program
  .command('env')
  .description('print the environment variables of the running stack')
  .action(() => {
    for (const [k, v] of Object.entries(stackEnv(stack().info()))) console.log(`${k}=${v}`);
  });

program.parseAsync().catch((err: Error & { code?: string }) => {
  console.error(`stack: ${err.code ? `${err.code}: ` : ''}${err.message}`);
  process.exit(1);
});
