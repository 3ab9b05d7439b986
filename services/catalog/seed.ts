/**
 * Demo seed: a small catalog (20 products in 4 categories) for the local stack, including
 * FLASH-PHONE-1, the product of the demo flash sale. Idempotent: it inserts only the SKUs that are
 * missing and never overwrites a product someone has since edited.
 */
import type { Pool } from '../kit/index.ts';
import { type ProductInput, validateProduct } from './domain/product.ts';
import { CatalogStore } from './store.ts';

export const DEMO_FLASH_SKU = 'FLASH-PHONE-1';

type Demo = [sku: string, input: Omit<ProductInput, 'currency'>];
const p = (
  category: string,
  title: string,
  brand: string,
  priceMinor: number,
  description: string,
  attributes: Record<string, unknown> = {},
): Omit<ProductInput, 'currency'> => ({ category, title, brand, priceMinor, description, attributes });

const DEMO: readonly Demo[] = [
  [
    DEMO_FLASH_SKU,
    p(
      'phones',
      'Titan X1 Smartphone 128 GB',
      'Titan',
      29900,
      'The flash-sale phone: 6.1-inch OLED display, dual camera, all-day battery.',
      { storage: '128GB', color: 'graphite', flashSale: true },
    ),
  ],
  [
    'PHONE-NOVA-5',
    p('phones', 'Nova 5 Smartphone 256 GB', 'Nova', 54900, 'Flagship phone with a 120 Hz screen.', {
      storage: '256GB',
    }),
  ],
  [
    'PHONE-PIXO-LITE',
    p('phones', 'Pixo Lite Phone', 'Pixo', 19900, 'A light, affordable phone for every day.'),
  ],
  [
    'PHONE-CASE-CLEAR',
    p('phones', 'Clear Phone Case for Titan X1', 'Titan', 1900, 'Slim shock-absorbing case.'),
  ],
  [
    'PHONE-CHARGER-30W',
    p('phones', 'USB-C Fast Charger 30 W', 'Voltix', 2900, 'Charges a phone to 50% in 30 minutes.'),
  ],
  [
    'AUDIO-AURORA-HP',
    p('audio', 'Aurora Wireless Headphones', 'Aurora', 14900, 'Over-ear headphones with noise cancelling.', {
      anc: true,
      batteryHours: 30,
    }),
  ],
  [
    'AUDIO-BUDS-PRO',
    p('audio', 'Aurora Buds Pro Earbuds', 'Aurora', 9900, 'True wireless earbuds with a charging case.'),
  ],
  [
    'AUDIO-BOOM-SPK',
    p('audio', 'Boom Portable Bluetooth Speaker', 'Boom', 5900, 'Waterproof speaker for the beach.'),
  ],
  [
    'AUDIO-SOUNDBAR-2',
    p('audio', 'Cinema Soundbar 2.1', 'Sonora', 24900, 'Soundbar with a wireless subwoofer.'),
  ],
  [
    'AUDIO-TURNTABLE',
    p('audio', 'Retro Vinyl Turntable', 'Sonora', 17900, 'Belt-drive record player with speakers.'),
  ],
  [
    'HOME-ESPRESSO-1',
    p('home', 'Barista Espresso Machine', 'Crema', 39900, '15-bar pump espresso maker with a milk frother.'),
  ],
  [
    'HOME-KETTLE-GLASS',
    p('home', 'Glass Electric Kettle 1.7 L', 'Crema', 3900, 'Boils water fast; blue LED light.'),
  ],
  [
    'HOME-VACUUM-ROBO',
    p('home', 'Robo Vacuum Cleaner S7', 'Dustless', 29900, 'Self-emptying robot vacuum with mapping.'),
  ],
  ['HOME-LAMP-ARC', p('home', 'Arc Floor Lamp', 'Lumen', 12900, 'Dimmable LED floor lamp, brushed steel.')],
  ['HOME-BLENDER-X', p('home', 'Power Blender X', 'Crema', 8900, 'Smoothies and soups, 1200 W motor.')],
  [
    'SPORT-RUN-SHOE',
    p('sports', 'Sprint Running Shoes', 'Stride', 11900, 'Light running shoes with a cushioned sole.', {
      sizes: [40, 41, 42, 43, 44],
    }),
  ],
  ['SPORT-YOGA-MAT', p('sports', 'Grip Yoga Mat', 'Zenfit', 3400, 'Non-slip mat, 6 mm thick.')],
  [
    'SPORT-DUMBBELL-20',
    p('sports', 'Adjustable Dumbbell 20 kg', 'Ironclad', 15900, 'Change the weight with one dial.'),
  ],
  [
    'SPORT-BIKE-HELMET',
    p('sports', 'Urban Bike Helmet', 'Stride', 6900, 'Ventilated helmet with a rear light.'),
  ],
  [
    'SPORT-WATCH-GPS',
    p('sports', 'GPS Sports Watch', 'Stride', 24900, 'Tracks runs, rides and swims; heart-rate sensor.'),
  ],
];

export async function seedDemoCatalog(pool: Pool): Promise<{ products: number; created: number }> {
  const drafts = DEMO.map(([sku, input]) => validateProduct(sku, { ...input, currency: 'USD' }));
  const created = await new CatalogStore(pool).insertMissing(drafts);
  return { products: drafts.length, created };
}
