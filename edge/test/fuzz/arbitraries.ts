/**
 * fast-check arbitraries for hostile input: values that satisfy a JSON Schema (as the OpenAPI document
 * declares it) but sit on its edges, the same values with one part broken (wrong type, missing or extra
 * property, out-of-range number), and plain garbage: strings (unicode, control characters, very long),
 * numbers (huge, negative, fractional), random JSON shapes and raw bytes.
 */
import fc from 'fast-check';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  patternProperties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  maxProperties?: number;
  format?: string;
}

/** Strings meant to break things: boundaries, unicode, control characters, injections, huge ones. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800',
    '\udfff',
    'é',
    '\u202e',
    '\ufeff',
    '👩‍👩‍👧‍👦',
    '../../etc/passwd',
    '%00',
    '%zz',
    "'; DROP TABLE users; --",
    '{{7*7}}',
    `${'$'}{jndi:ldap://x}`, // a log4shell probe, literally
    'null',
    'true',
    '1e309',
    '-0',
    '__proto__',
    'constructor',
    'a'.repeat(255),
    'x'.repeat(5000),
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u2028'),
    maxLength: 8,
  }),
  fc.nat({ max: 70_000 }).map((n) => 'y'.repeat(n)),
);

/** Numbers that break naive arithmetic: huge, negative, fractional, beyond 2^53, zero signs. */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    0.5,
    1.5,
    -1.5,
    2 ** 31,
    2 ** 31 - 1,
    2 ** 32,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53),
    1e21,
    1e308,
    -1e308,
    Number.MIN_VALUE,
    Number.EPSILON,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any JSON value, shapes included (nested objects and arrays, dangerous keys). */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(
    fc.oneof(fc.constantFrom('__proto__', 'constructor', 'qty', 'id', ''), fc.string()),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  nastyString,
  nastyNumber,
);

/** encodeURIComponent that also takes lone surrogates (sent as U+FFFD, as a browser would). */
export function pct(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text, 'utf8')]
      .map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`)
      .join('');
  }
}

const typeOf = (s: JsonSchema): string | undefined => (Array.isArray(s.type) ? s.type[0] : s.type);

/** A value the schema accepts, drawn towards its edges (bounds, max lengths, optional parts). */
export function validValue(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts && alts.length > 0) return fc.oneof(...alts.map(validValue));
  switch (typeOf(schema)) {
    case 'string': {
      if (schema.pattern) {
        const re = new RegExp(schema.pattern);
        return fc
          .stringMatching(re, { size: 'small' })
          .filter((v) => v.length >= (schema.minLength ?? 0) && v.length <= (schema.maxLength ?? 1e9));
      }
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      const min = schema.minLength ?? 0;
      const max = Math.min(schema.maxLength ?? 64, 5000);
      return fc.oneof(
        fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 30) }),
        fc.constant('x'.repeat(max)),
        fc.constant('é'.repeat(max)),
        fc.constant('x'.repeat(min)),
      );
    }
    case 'integer': {
      const min = Math.max(schema.minimum ?? -(2 ** 53), Number.MIN_SAFE_INTEGER);
      const max = Math.min(schema.maximum ?? 2 ** 53, Number.MAX_SAFE_INTEGER);
      return fc.oneof(
        fc.constantFrom(min, max),
        fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }),
      );
    }
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1e12,
        max: schema.maximum ?? 1e12,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const item = schema.items ? validValue(schema.items) : fc.jsonValue({ maxDepth: 1 });
      return fc.array(item, {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 5, 5),
      });
    }
    case 'object': {
      const props = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) record[k] = validValue(s);
      const requiredKeys = Object.keys(props).filter((k) => required.has(k));
      if (Object.keys(props).length > 0) return fc.record(record, { requiredKeys });
      const values = schema.patternProperties
        ? Object.values(schema.patternProperties)[0]
        : typeof schema.additionalProperties === 'object'
          ? schema.additionalProperties
          : undefined;
      return fc.dictionary(
        fc.string({ maxLength: 10 }),
        values ? validValue(values) : fc.jsonValue({ maxDepth: 1 }),
        {
          maxKeys: Math.min(schema.maxProperties ?? 5, 5),
        },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value the schema should refuse, or at least find odd: one part replaced, dropped or added. */
export function brokenValue(schema: JsonSchema): fc.Arbitrary<unknown> {
  const t = typeOf(schema);
  if (t === 'object' && schema.properties && Object.keys(schema.properties).length > 0) {
    const keys = Object.keys(schema.properties);
    return fc
      .tuple(
        validValue(schema),
        fc.constantFrom(...keys),
        fc.constantFrom('replace', 'drop', 'extra', 'nested'),
        anyJson,
      )
      .map(([v, key, how, junk]) => {
        const o = { ...(v as Record<string, unknown>) };
        if (how === 'replace') o[key] = junk;
        else if (how === 'drop') delete o[key];
        else if (how === 'extra') o[`extra_${String(key)}`] = junk;
        else o[key] = { [key]: o[key] };
        return o;
      });
  }
  if (t === 'integer' || t === 'number') return nastyNumber;
  if (t === 'string') return fc.oneof(nastyString, nastyNumber, fc.constant(null));
  return anyJson;
}

/** A request body as it goes on the wire: schema-edge JSON, broken JSON, garbage, or nothing. */
export function bodyText(schema: JsonSchema | undefined): fc.Arbitrary<string | Buffer | undefined> {
  const fromValue = (a: fc.Arbitrary<unknown>) => a.map((v) => JSON.stringify(v) ?? 'null');
  return fc.oneof(
    { weight: schema ? 4 : 0, arbitrary: schema ? fromValue(validValue(schema)) : fc.constant(undefined) },
    { weight: schema ? 4 : 0, arbitrary: schema ? fromValue(brokenValue(schema)) : fc.constant(undefined) },
    { weight: 2, arbitrary: fromValue(anyJson) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '{"qty":1,"qty":-1}',
        '{"qty":1e999}',
        '{"qty":"1"}',
        '{"__proto__":{"admin":true},"qty":1}',
        '[]',
        'null',
        '"\\ud800"',
        `${'['.repeat(1500)}${']'.repeat(1500)}`,
        '\ufeff{"qty":1}',
        '{"email":"a@b.c","password":"x","email":"b@c.d"}',
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.nat({ max: 9000 }).map((n) => JSON.stringify({ pad: 'z'.repeat(n) })) },
  );
}

/** A path segment where a parameter goes: a valid id, a schema value, or hostile text (percent-encoded). */
export function pathSegment(schema: JsonSchema | undefined, valid: string[]): fc.Arbitrary<string> {
  const enc = (a: fc.Arbitrary<unknown>) => a.map((v) => pct(String(v)));
  return fc.oneof(
    {
      weight: valid.length > 0 ? 5 : 0,
      arbitrary: valid.length > 0 ? fc.constantFrom(...valid).map(pct) : fc.constant('x'),
    },
    { weight: schema ? 3 : 0, arbitrary: schema ? enc(validValue(schema)) : fc.constant('x') },
    { weight: 2, arbitrary: enc(nastyString).filter((s) => s.length > 0 && s.length < 8000) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%zz',
        '%E0%A4%A',
        '%',
        '%00',
        '..',
        '%2F',
        '%2e%2e',
        '-',
        '0-0-0',
        '99999-99999-999999999999999',
      ),
    },
  );
}

/** A query string: declared parameters with edge values, unknown ones, and raw garbage. */
export function queryString(params: { name: string; schema: JsonSchema }[]): fc.Arbitrary<string> {
  const pair = (name: string, v: fc.Arbitrary<unknown>) => v.map((x) => `${pct(name)}=${pct(String(x))}`);
  const declared = params.map((p) => fc.oneof(pair(p.name, validValue(p.schema)), pair(p.name, nastyString)));
  return fc.oneof(
    fc.constant(''),
    declared.length > 0
      ? fc.array(fc.oneof(...declared), { maxLength: 4 }).map((a) => a.join('&'))
      : fc.constant(''),
    fc.array(pair('x', nastyString), { maxLength: 3 }).map((a) => a.join('&')),
    fc.constantFrom('a=%zz', '&&&', '=', 'access_token=a.b.c', 'limit=1&limit=2', `q=${'w'.repeat(3000)}`),
  );
}

/** An Authorization header, or its absence/duplication: valid tokens mixed with garbage. */
export function authorization(tokens: string[]): fc.Arbitrary<readonly string[]> {
  const valid = fc.constantFrom(...tokens).map((t) => `Bearer ${t}`);
  const garbage = fc.oneof(
    fc.constantFrom(
      'Bearer',
      'Bearer ',
      'bearer x',
      'Basic dXNlcjpwYXNz',
      'Bearer a.b.c',
      'Bearer ..',
      `Bearer ${'A'.repeat(5000)}`,
    ),
    fc.constantFrom(...tokens).map((t) => `Bearer ${t.slice(0, -2)}${t.endsWith('A') ? 'BB' : 'AA'}`),
    fc.constantFrom(...tokens).map((t) => `Bearer ${t.split('.').reverse().join('.')}`),
    nastyString.map((s) => `Bearer ${s}`),
  );
  return fc.oneof(
    { weight: 6, arbitrary: valid.map((v) => [v]) },
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: garbage.map((g) => [g]) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.oneof(valid, garbage)).map(([a, b]) => [a, b]) },
  );
}

/** Idempotency-Key values: valid, huge, unicode, control characters, duplicated. */
export const idempotencyKeys: fc.Arbitrary<readonly string[]> = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/).map((k) => [`fz-${k}`]) },
  { weight: 1, arbitrary: fc.constant([]) },
  { weight: 2, arbitrary: nastyString.map((s) => [s]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ['k'.repeat(129)],
      ['k'.repeat(10_000)],
      ['a', 'b'],
      ['same', 'same'],
      ['ключ'],
      ['a b'],
    ),
  },
);

export const contentTypes: fc.Arbitrary<readonly string[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(['application/json']) },
  { weight: 2, arbitrary: fc.constant([]) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ['text/plain'],
      ['application/x-www-form-urlencoded'],
      ['multipart/form-data; boundary=----x'],
      ['application/json; charset=utf-16'],
      ['application/json', 'text/html'],
      ['*/*'],
      ['\u00ff\u00fe'],
    ),
  },
);
