/**
 * A small deterministic YAML writer for JSON-shaped values (no dependency in the repository writes
 * YAML). Block style, keys in insertion order, two-space indent. A string is written plain only when
 * no YAML 1.1 or 1.2 reader could take it for anything else (a number, boolean, null, timestamp,
 * indicator); multi-line strings are literal blocks; everything else is a JSON string, which is a
 * valid YAML double-quoted scalar.
 */
type Value = unknown;

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./@%+=:-]*$/;
/** Plain words some YAML reader turns into booleans or null (YAML 1.1 included). */
const RESERVED = /^(true|false|yes|no|on|off|y|n|null|nan|inf)$/i;
/**
 * Characters JSON leaves raw that YAML does not allow raw (outside c-printable) or reads as line
 * breaks (YAML 1.1). Lone surrogates JSON.stringify escapes itself.
 */
const NEEDS_ESCAPE = /[\u007f-\u009f\u2028\u2029\ufffe\uffff]/g;
const HAS_ESCAPE = new RegExp(NEEDS_ESCAPE.source);

function quoted(text: string): string {
  return JSON.stringify(text).replace(
    NEEDS_ESCAPE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as YAML`);
    return String(value);
  }
  return PLAIN.test(value) && !value.endsWith(':') && !RESERVED.test(value) ? value : quoted(value);
}

/** The last literal block written: every cell's file carries the same cell map at the same indent. */
let lastBlock: { text: string; indent: number; block: string | undefined } | undefined;

/** A literal block (`|` / `|-`) for multi-line text it can carry exactly, else undefined. */
function literalBlock(text: string, indent: number): string | undefined {
  if (lastBlock?.text === text && lastBlock.indent === indent) return lastBlock.block;
  const block = writeLiteralBlock(text, indent);
  if (text.length > 4096) lastBlock = { text, indent, block };
  return block;
}

function writeLiteralBlock(text: string, indent: number): string | undefined {
  if (!text.includes('\n') || /[\r\t]/.test(text) || HAS_ESCAPE.test(text)) return undefined;
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body.endsWith('\n') || body.startsWith(' ') || body.startsWith('\n')) return undefined;
  const lines = body.split('\n');
  // Whitespace-only lines would be read as (less-indented) empty lines.
  if (lines.some((l) => l.length > 0 && l.trim() === '')) return undefined;
  const pad = ' '.repeat(indent);
  const header = text.endsWith('\n') ? '|' : '|-';
  return `${header}\n${lines.map((l) => (l === '' ? '' : pad + l)).join('\n')}`;
}

const isMapping = (v: Value): v is Record<string, Value> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const entries = (v: Record<string, Value>) => Object.entries(v).filter(([, x]) => x !== undefined);
const isBlock = (v: Value) => (Array.isArray(v) ? v.length > 0 : isMapping(v) && entries(v).length > 0);

/** Lines of a non-empty collection as a block node at `indent` spaces (no trailing newline). */
function block(value: Value, indent: number): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    return value
      .map((item: Value) =>
        isBlock(item)
          ? // The item's block at indent+2, its first line starting with the dash instead of spaces.
            `${pad}- ${block(item, indent + 2).slice(indent + 2)}`
          : `${pad}- ${inline(item, indent + 2)}`,
      )
      .join('\n');
  }
  return entries(value as Record<string, Value>)
    .map(([key, v]) =>
      // Sequences sit two spaces under their key, like mappings.
      isBlock(v)
        ? `${pad}${scalar(key)}:\n${block(v, indent + 2)}`
        : `${pad}${scalar(key)}: ${inline(v, indent + 2)}`,
    )
    .join('\n');
}

/** A value that fits after `key: ` or `- `: a scalar, an empty collection, or a literal block. */
function inline(value: Value, indent: number): string {
  if (Array.isArray(value)) return '[]';
  if (isMapping(value)) return '{}';
  if (typeof value === 'string') return literalBlock(value, indent) ?? scalar(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return scalar(value);
  throw new TypeError(`cannot write ${typeof value} as YAML`);
}

/** One YAML document (without the `---` marker), ending in a newline. */
export function toYaml(value: Value): string {
  return `${isBlock(value) ? block(value, 0) : inline(value, 2)}\n`;
}

/** A multi-document stream: each document after a `---` line. */
export function toYamlDocuments(values: readonly Value[]): string {
  return values.map((v) => `---\n${toYaml(v)}`).join('');
}
