import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from './metrics.ts';

test('metrics render as Prometheus text with the titan_ prefix and labels', async () => {
  const m = createMetrics({ process: 'test' });
  const c = m.counter('purchases_total', 'Purchases', ['result']);
  c.inc({ result: 'reserved' }, 3);
  m.histogram('batch_size', 'Batch size', [], [1, 8, 64]).observe(5);
  const text = await m.render();
  assert.match(text, /# TYPE titan_purchases_total counter/);
  assert.match(text, /titan_purchases_total\{result="reserved",process="test"\} 3/);
  assert.match(text, /titan_batch_size_bucket\{le="8",process="test"\} 1/);
  assert.match(text, /titan_process_cpu_seconds_total/);
  assert.match(m.contentType, /text\/plain/);
});

test('asking twice for the same metric returns the same instance', () => {
  const m = createMetrics({ defaultMetrics: false });
  assert.equal(m.counter('x_total', 'x'), m.counter('x_total', 'x'));
});
