/**
 * The HTTP ceiling of this machine and load generator: a uWebSockets.js server answering every request
 * with a fixed 12-byte body, nothing else. Its own process; `/ready` answers the same. Port from
 * TITAN_BENCH_HELLO_PORT.
 */
import { requireNativeUws } from '../../services/kit/http/uws.ts';

const uws = requireNativeUws();
const port = Number(process.env.TITAN_BENCH_HELLO_PORT ?? 28091);
const app = uws.App();
app.any('/*', (res) => {
  res.end('Hello World!');
});
app.listen('127.0.0.1', port, (socket) => {
  if (!socket) {
    console.error(`hello: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop).on('SIGINT', stop);
if (process.channel) process.once('disconnect', stop);
