/**
 * The OpenAPI 3.1 document, built from the same route declarations that validate requests: the
 * edge's own routes and the services' routes it proxies. TypeBox schemas are JSON Schema 2020-12,
 * the dialect of OpenAPI 3.1, so they go in as they are.
 */
import type { TSchema } from '@sinclair/typebox';
import type { Method, RouteInfo, RouteTarget } from '../services/kit/index.ts';

const ErrorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
};

/** Records route declarations without serving them (to describe proxied services). */
export class RouteCollector implements RouteTarget {
  readonly routes: RouteInfo[] = [];
  route: RouteTarget['route'] = (method, pattern, _handler, schema) => {
    this.routes.push({ method, pattern, schema });
    return this as never;
  };
}

const plain = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema));

function parameters(route: RouteInfo) {
  const out: unknown[] = [];
  for (const [where, schema] of [
    ['path', route.schema?.params],
    ['query', route.schema?.query],
  ] as const) {
    const props = (schema as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {};
    const required = new Set((schema as { required?: string[] } | undefined)?.required ?? []);
    for (const [name, s] of Object.entries(props)) {
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: plain(s) });
    }
  }
  // Path parameters the route has but did not describe.
  for (const m of route.pattern.matchAll(/:(\w+)/g)) {
    if (!out.some((p) => (p as { name: string }).name === m[1])) {
      out.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    }
  }
  return out;
}

export function buildOpenApi(routes: readonly RouteInfo[], info: { title: string; version: string }) {
  const paths: Record<string, Partial<Record<Lowercase<Method>, unknown>>> = {};
  for (const route of routes) {
    if (route.pattern.includes('*')) continue;
    const path = route.pattern.replace(/:(\w+)/g, '{$1}');
    const s = route.schema;
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(s?.response ?? {})) {
      responses[status] = { description: 'OK', content: { 'application/json': { schema: plain(schema) } } };
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
    responses['4XX'] = {
      description: 'Client error',
      content: { 'application/json': { schema: ErrorBody } },
    };
    responses['5XX'] = {
      description: 'Server error',
      content: { 'application/json': { schema: ErrorBody } },
    };
    const op: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(s?.summary ? { summary: s.summary } : {}),
      ...(s?.tags ? { tags: s.tags } : {}),
      parameters: parameters(route),
      responses,
      ...(s?.auth ? { security: [{ bearer: [] }] } : {}),
    };
    if (s?.body)
      op.requestBody = { required: true, content: { 'application/json': { schema: plain(s.body) } } };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase() as Lowercase<Method>] = op;
  }
  return {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}
