/**
 * The `flash-sales` command group of the `titan` CLI: list sales and reconcile a sale's ledger
 * (`sold + reserved + cell quotas + pool == stock`), through the edge. Exits 1 when a ledger does not balance.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { CellsCliContext } from '../../cells/cli.ts';
import { formatTable } from '../../cells/cli.ts';

interface LedgerView {
  stock: number;
  sold: number;
  reserved: number;
  quotas: number;
  pool: number;
  balanced: boolean;
  poolAvailable: boolean;
  unavailable: number[];
  cells: Record<string, { quota: number; reserved: number; sold: number }>;
}

export function addFlashSaleCommands(program: CommandUnknownOpts, ctx: CellsCliContext): void {
  const group = program.command('flash-sales').description('Flash sales: list them, reconcile their stock');
  group
    .command('list')
    .description('sales scheduled, running or just ended, with state and remaining stock')
    .action(async () => {
      const { sales } = await ctx.api().request<{
        sales: { id: string; sku: string; state: string; remaining: number; startsAt: string }[];
      }>('GET', '/v1/flash-sales');
      if (ctx.json()) console.log(JSON.stringify(sales));
      else
        console.log(
          formatTable([
            ['id', 'sku', 'state', 'remaining', 'starts'],
            ...sales.map((s) => [s.id, s.sku, s.state, s.remaining, s.startsAt]),
          ]),
        );
    });
  group
    .command('reconcile <saleId>')
    .description('check sold + reserved + cell quotas + pool == stock; exit 1 when it does not hold')
    .action(async (saleId: string) => {
      const l = await ctx
        .api()
        .request<LedgerView>('GET', `/v1/admin/flash-sales/${encodeURIComponent(saleId)}/ledger`);
      if (ctx.json()) console.log(JSON.stringify(l));
      else {
        console.log(
          formatTable([
            ['cell', 'quota', 'reserved', 'sold'],
            ...Object.entries(l.cells).map(([cell, c]) => [cell, c.quota, c.reserved, c.sold]),
          ]),
        );
        const unread = [...l.unavailable.map((c) => `cell ${c}`), ...(l.poolAvailable ? [] : ['the pool'])];
        const verdict = l.balanced
          ? 'balanced'
          : unread.length > 0
            ? `UNKNOWN (cannot read ${unread.join(', ')}: shard down)`
            : 'NOT BALANCED';
        console.log(
          `stock ${l.stock} = sold ${l.sold} + reserved ${l.reserved} + quotas ${l.quotas} + pool ${l.pool}: ${verdict}`,
        );
      }
      if (!l.balanced) process.exitCode = 1;
    });
}
