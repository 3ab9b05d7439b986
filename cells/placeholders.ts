/**
 * `${NAME}` and `${NAME:-default}` in shard URLs, so one map serves the dev and the test stack.
 * Shell semantics: the default applies when the variable is unset or empty.
 */
export type Env = Readonly<Record<string, string | undefined>>;

const PLACEHOLDER = /\$\{([^}]*)\}/g;
const BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

export type Expansion = { ok: true; value: string } | { ok: false; message: string };

/** Expands every placeholder of `text` from `env`; `env === false` only checks the syntax. */
export function expandPlaceholders(text: string, env: Env | false): Expansion {
  let error: string | undefined;
  const value = text.replace(PLACEHOLDER, (whole, body: string) => {
    const m = BODY.exec(body);
    if (!m) {
      error ??= `malformed placeholder ${whole}: expected \${NAME} or \${NAME:-default}`;
      return whole;
    }
    if (env === false) return whole;
    const name = m[1]!;
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (m[2] !== undefined) return m[2];
    error ??= `environment variable ${name} is not set and ${whole} has no default`;
    return whole;
  });
  return error === undefined ? { ok: true, value } : { ok: false, message: error };
}

export function hasPlaceholder(text: string): boolean {
  return text.includes('${');
}
