/**
 * Typed configuration: environment variables (and JSON files) validated against a TypeBox schema at
 * start. A bad or missing setting fails fast with CONFIG_INVALID naming the setting and the rule.
 */
import { readFileSync } from 'node:fs';
import { type Static, type TObject, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { defineErrors } from './errors.ts';

export const ConfigErrors = defineErrors({
  CONFIG_INVALID: { status: 500, message: 'Invalid configuration' },
});

/** A port number setting with a default. */
export const Port = (defaultPort: number, description?: string) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort, description });

function describeProblems(schema: TSchema, value: unknown, source: string, nameOf: (path: string) => string) {
  const problems: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    const at = e.path === '' ? source : nameOf(e.path);
    const got = e.value === undefined ? 'nothing' : JSON.stringify(e.value);
    problems.push(`${at}: ${e.message} (got ${got})`);
    if (problems.length >= 10) break;
  }
  return problems;
}

/**
 * Reads the settings named by `schema`'s properties from `env`. Property names are the variable
 * names (`TITAN_EDGE_PORT`). Values are converted to the schema's types ("8080" -> 8080,
 * "true" -> true) and defaults applied; unknown variables are ignored.
 */
export function loadEnvConfig<T extends TObject>(
  schema: T,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<Static<T>> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const value = Value.Default(schema, Value.Convert(schema, raw));
  if (!Value.Check(schema, value)) {
    const problems = describeProblems(schema, value, 'environment', (path) => path.slice(1));
    throw ConfigErrors.CONFIG_INVALID(`Invalid setting ${problems.join('; ')}`, { problems });
  }
  return Object.freeze(value as Static<T>);
}

/** Parses and validates a JSON settings document; problems name the file and the JSON pointer. */
export function parseConfigDocument<T extends TSchema>(schema: T, json: unknown, source: string): Static<T> {
  const value = Value.Default(schema, Value.Clone(json));
  if (!Value.Check(schema, value)) {
    const problems = describeProblems(schema, value, source, (path) => `${source}#${path}`);
    throw ConfigErrors.CONFIG_INVALID(`Invalid settings in ${problems.join('; ')}`, { problems });
  }
  return value as Static<T>;
}

export function readConfigFile<T extends TSchema>(schema: T, path: string): Static<T> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw ConfigErrors.CONFIG_INVALID(`Cannot read settings file ${path}: ${(err as Error).message}`);
  }
  return parseConfigDocument(schema, json, path);
}

/**
 * The address a service's HTTP server binds: loopback by default (clients reach services through the
 * edge); `TITAN_LISTEN_HOST=0.0.0.0` in a container, where probes and other pods connect to the pod's address.
 */
export function serviceListenHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.TITAN_LISTEN_HOST || '127.0.0.1';
}
