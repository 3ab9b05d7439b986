/** Demo seed: one upcoming flash sale when none is scheduled or running (the control loop loads it). */
import type { Pool } from '../kit/index.ts';
import { newSaleId } from './domain/sale.ts';
import { SaleStore } from './store.ts';

export async function seedDemoSale(pool: Pool, now = Date.now()) {
  const store = new SaleStore(pool);
  const current = await store.current(now, 0);
  if (current.length > 0) return { sale: current[0]!.id, created: false };
  const sale = await store.insert(
    {
      id: newSaleId(),
      sku: 'FLASH-PHONE-1',
      title: 'Titan Phone 1 - launch flash sale',
      priceMinor: 19_900,
      currency: 'EUR',
      stock: 100,
      perUserLimit: 2,
      startsAt: now + 60_000,
      endsAt: now + 2 * 3600_000,
      powDifficulty: 0,
      reservationTtlMs: 600_000,
    },
    null,
  );
  return { sale: sale.id, created: true };
}
