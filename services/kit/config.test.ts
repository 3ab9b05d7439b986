import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port, readConfigFile } from './config.ts';
import { TitanError } from './errors.ts';

const Schema = Type.Object({
  TITAN_EDGE_PORT: Port(8080),
  TITAN_LOG_JSON: Type.Boolean({ default: true }),
  TITAN_MODE: Type.Union([Type.Literal('redis'), Type.Literal('kafka')], { default: 'redis' }),
  TITAN_SECRET: Type.String({ minLength: 8 }),
});

test('environment values are converted to their types and defaults fill the gaps', () => {
  const c = loadEnvConfig(Schema, { TITAN_EDGE_PORT: '9000', TITAN_SECRET: 'long-enough', OTHER: 'x' });
  assert.deepEqual(c, {
    TITAN_EDGE_PORT: 9000,
    TITAN_LOG_JSON: true,
    TITAN_MODE: 'redis',
    TITAN_SECRET: 'long-enough',
  });
  assert.ok(Object.isFrozen(c));
});

test('a bad setting fails with CONFIG_INVALID naming the variable and what it got', () => {
  assert.throws(
    () => loadEnvConfig(Schema, { TITAN_EDGE_PORT: '70000', TITAN_SECRET: 'long-enough' }),
    (err: unknown) =>
      err instanceof TitanError &&
      err.code === 'CONFIG_INVALID' &&
      err.message.includes('TITAN_EDGE_PORT') &&
      err.message.includes('70000'),
  );
  assert.throws(
    () => loadEnvConfig(Schema, { TITAN_EDGE_PORT: 'eighty', TITAN_SECRET: 'long-enough' }),
    /TITAN_EDGE_PORT/,
  );
  assert.throws(
    () => loadEnvConfig(Schema, { TITAN_MODE: 'zeromq', TITAN_SECRET: 'long-enough' }),
    /TITAN_MODE/,
  );
});

test('a missing required setting is named', () => {
  assert.throws(() => loadEnvConfig(Schema, {}), /TITAN_SECRET/);
});

test('a settings file with a bad value names the file and the JSON pointer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'titan-config-'));
  const file = join(dir, 'cell.json');
  const CellSettings = Type.Object({
    pools: Type.Object({ maxThreads: Type.Integer({ minimum: 1, maximum: 64 }) }),
  });
  writeFileSync(file, JSON.stringify({ pools: { maxThreads: 0 } }));
  assert.throws(
    () => readConfigFile(CellSettings, file),
    (err: unknown) => {
      assert.ok(err instanceof TitanError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, new RegExp(`${file.replace(/[.]/g, '\\.')}#/pools/maxThreads`));
      return true;
    },
  );
  writeFileSync(file, '{ not json');
  assert.throws(() => readConfigFile(CellSettings, file), /Cannot read settings file/);
  writeFileSync(file, JSON.stringify({ pools: { maxThreads: 8 } }));
  assert.deepEqual(readConfigFile(CellSettings, file), { pools: { maxThreads: 8 } });
});
