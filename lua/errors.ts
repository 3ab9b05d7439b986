import { defineErrors, type TitanError } from '../services/kit/errors.ts';

/**
 * The lua area's error catalogue. Script error replies start with one of these codes
 * (`LUA_BAD_ARGUMENT requests[3].quantity: ...`), and the loader maps them to the same factories,
 * so a caller sees one typed error whether TypeScript or Lua refused the call.
 */
export const LuaErrors = defineErrors({
  LUA_BAD_ARGUMENT: { status: 400, message: 'Invalid argument for a Redis script' },
  LUA_BATCH_TOO_LARGE: { status: 413, message: 'Batch larger than the maximum batch size' },
  LUA_NOT_FOUND: { status: 404, message: 'The script found no such entity' },
  LUA_CONFLICT: { status: 409, message: 'An id was reused with different parameters' },
  LUA_SCRIPT_FAILED: { status: 500, message: 'A Redis script failed' },
  LUA_TRANSFER_INCOMPLETE: { status: 503, message: 'A quota transfer could not finish; recovery will' },
});

export type LuaErrorCode = keyof typeof LuaErrors;

const REPLY_CODE = /^(LUA_[A-Z_]+) (?:([^:\s]+): )?/;

/** Maps a Redis error reply of one of our scripts to its typed error; anything else is LUA_SCRIPT_FAILED. */
export function fromReplyError(err: unknown, script: string): TitanError {
  const message = err instanceof Error ? err.message : String(err);
  const m = REPLY_CODE.exec(message);
  const code = m?.[1];
  if (code !== undefined && code in LuaErrors && code !== 'LUA_SCRIPT_FAILED') {
    const field = m?.[2];
    return LuaErrors[code as LuaErrorCode](
      message.slice(code.length + 1),
      field === undefined ? { script } : { script, field },
    );
  }
  return LuaErrors.LUA_SCRIPT_FAILED(`${script}: ${message}`, { script });
}

/** A caller-side argument error naming the offending field (same shape as a script's LUA_BAD_ARGUMENT). */
export function badArgument(field: string, why: string): TitanError {
  return LuaErrors.LUA_BAD_ARGUMENT(`${field}: ${why}`, { field });
}

/**
 * The caller-side check of a batch's size, the same rule and answer as the script's: LUA_BAD_ARGUMENT when
 * `list` is empty or not an array, LUA_BATCH_TOO_LARGE (field `requests`) above `max`.
 */
export function checkBatchSize(list: unknown, max: number, script: string): void {
  if (!Array.isArray(list) || list.length === 0)
    throw badArgument('requests', 'must hold at least one request');
  if (list.length > max) {
    throw fromReplyError(new Error(`LUA_BATCH_TOO_LARGE requests: ${list.length} > ${max}`), script);
  }
}
