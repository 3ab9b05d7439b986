/**
 * Loads uWebSockets.js and proves it is the native build. The npm build we use silently falls back
 * to a slow pure-JS imitation on node:http when its binary does not load (it only console.warns);
 * serving on that by accident would quietly cost most of our throughput, so we refuse unless told.
 */

import type * as UwsTypes from 'uWebSockets.js';
import { createRequire } from 'node:module';
import { defineErrors } from '../errors.ts';

export type Uws = typeof UwsTypes;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';

export const UwsErrors = defineErrors({
  UWS_NOT_NATIVE: {
    status: 500,
    message:
      'uWebSockets.js loaded its pure-JS fallback instead of the native binary. Check the Node version ' +
      '(ABI) and platform, or set TITAN_ALLOW_UWS_FALLBACK=1 to run slowly anyway (debugging only).',
  },
});

const require = createRequire(import.meta.url);
let loaded: { uws: Uws; native: boolean } | undefined;

export function loadUws(): { uws: Uws; native: boolean } {
  if (loaded) return loaded;
  const uws = require('uWebSockets.js') as Uws;
  // The native addon is a .node file in require's cache; the fallback is plain JS.
  const native = Object.keys(require.cache).some((p) => /uws_[^/]*\.node$/.test(p));
  loaded = { uws, native };
  return loaded;
}

export function requireNativeUws(allowFallback = process.env.TITAN_ALLOW_UWS_FALLBACK === '1'): Uws {
  const { uws, native } = loadUws();
  if (!native && !allowFallback) throw UwsErrors.UWS_NOT_NATIVE();
  return uws;
}
