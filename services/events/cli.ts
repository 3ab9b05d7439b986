/**
 * The `events` command group of the `titan` CLI: `titan events tail <topic> [--from-beginning] [--json]`
 * prints the events of a topic as they arrive (readable lines, or one JSON envelope per line), from the
 * configured bus (TITAN_BUS, TITAN_KAFKA_BROKERS, TITAN_REDIS_URL), until Ctrl-C. It reads as a consumer
 * group of its own, so it never takes events from the services' groups, and it never dead-letters.
 */
import { randomBytes } from 'node:crypto';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { loadEventsConfig } from './config.ts';
import { createEventBus } from './create-bus.ts';
import { type EventEnvelope, eventToJson } from './envelope.ts';

export interface EventsCliContext {
  json(): boolean;
}

/** One readable line per event. */
export function formatEvent(e: EventEnvelope): string {
  const cell = e.cell === null ? '' : ` cell=${e.cell}`;
  return `${e.occurredAt} ${e.type} v${e.version} ${e.aggregateId}${cell} ${e.id} ${JSON.stringify(e.payload)}`;
}

export function addEventsCommands(program: CommandUnknownOpts, ctx: EventsCliContext): void {
  const events = program.command('events').description('the event bus: watch topics');
  events
    .command('tail <topic>')
    .description('print the events of a topic as they arrive, until Ctrl-C')
    .option('--from-beginning', 'start with the oldest retained event instead of new ones')
    .option('--json', 'one JSON envelope per line')
    .action(async (topic: string, opts: { fromBeginning?: boolean; json?: boolean }) => {
      const json = opts.json === true || ctx.json();
      const bus = createEventBus(loadEventsConfig(), { clientId: 'titan-cli' });
      const out = (e: EventEnvelope) => {
        process.stdout.write(`${json ? eventToJson(e) : formatEvent(e)}\n`);
      };
      const sub = await bus.subscribe({
        topic,
        group: `titan-tail-${randomBytes(4).toString('hex')}`,
        fromBeginning: opts.fromBeginning === true,
        validate: false,
        deadLetter: false,
        maxAttempts: 1,
        handler: out,
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sub.close();
      await bus.close();
    });
}
