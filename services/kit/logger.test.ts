import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, nextRequestId, redactUrl } from './logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, destination };
}

test('secrets are redacted wherever the usual names appear', () => {
  const { lines, destination } = capture();
  const log = createLogger({ name: 'test', level: 'info', destination });
  log.info(
    {
      password: 'hunter2',
      body: { password: 'hunter2', refreshToken: 'rt-123', email: 'a@b.c' },
      req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1', host: 'x' } },
      accessToken: 'at-456',
    },
    'login',
  );
  const text = JSON.stringify(lines);
  for (const secret of ['hunter2', 'rt-123', 'abc.def.ghi', 'sid=1', 'at-456']) {
    assert.ok(!text.includes(secret), `${secret} leaked into the log: ${text}`);
  }
  const line = lines[0] as { body: { email: string; password: string }; req: { headers: { host: string } } };
  assert.equal(line.body.email, 'a@b.c');
  assert.equal(line.body.password, '[redacted]');
  assert.equal(line.req.headers.host, 'x');
});

test('log lines are JSON with level, time, name and message', () => {
  const { lines, destination } = capture();
  createLogger({ name: 'svc', level: 'debug', destination }).debug({ requestId: 'r1' }, 'hello');
  const [line] = lines;
  assert.equal(line?.name, 'svc');
  assert.equal(line?.msg, 'hello');
  assert.equal(line?.requestId, 'r1');
  assert.equal(typeof line?.time, 'string');
});

test('request ids are unique and URL passwords are masked', () => {
  const ids = new Set(Array.from({ length: 10_000 }, () => nextRequestId()));
  assert.equal(ids.size, 10_000);
  assert.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
});
