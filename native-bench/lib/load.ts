/**
 * The load generators: `wrk` (C, one thread by default; a generated Lua script sets per-request headers and
 * prints its summary as JSON) and autocannon's programmatic API (in this process; it saturates its own core
 * near 45-50K requests/s here). Both report the same shape, naming the generator, with the generator's own
 * CPU seconds.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { pidCpuSeconds } from './cpu.ts';

export type Generator = 'wrk' | 'autocannon';

export interface LoadSpec {
  /** Base URL, e.g. http://127.0.0.1:28080 */
  base: string;
  method: 'GET' | 'POST';
  path: string;
  connections: number;
  durationS: number;
  /** Authorization tokens, used round-robin, one per request; each request also gets its own Idempotency-Key. */
  tokens?: string[];
  body?: string;
  /** Makes idempotency keys unique across runs. */
  keyPrefix?: string;
}

export interface LoadResult {
  generator: Generator;
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; mean: number; max: number };
  /** CPU seconds the generator itself used. */
  generatorCpuS: number;
  /** Status code counts, when the generator reports them (autocannon). */
  statusCodes?: Record<string, number>;
}

const WRK_SCRIPT = `
local tokens = {}
local tokensFile = TOKENS_FILE
if tokensFile ~= "" then
  for line in io.lines(tokensFile) do tokens[#tokens + 1] = "Bearer " .. line end
end
local method, path, body = METHOD, PATH, BODY
local prefix = PREFIX
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  prefix = prefix .. "-" .. tostring(tid or 0) .. "-"
  n = math.random(0, #tokens)
end
if #tokens > 0 then
  request = function()
    n = n + 1
    return wrk.format(method, path, {
      ["Authorization"] = tokens[n % #tokens + 1],
      ["Idempotency-Key"] = prefix .. n,
      ["Content-Type"] = "application/json",
    }, body)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,"mean":%.1f,"max":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max))
end
`;

const luaString = (s: string) => JSON.stringify(s); // JSON string escapes are valid Lua for our inputs

export async function runWrk(
  wrkBinary: string,
  spec: LoadSpec,
  workDir: string,
  threads = 1,
): Promise<LoadResult> {
  mkdirSync(workDir, { recursive: true });
  const id = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  let tokensFile = '';
  if (spec.tokens?.length) {
    tokensFile = join(workDir, `tokens-${id}.txt`);
    writeFileSync(tokensFile, `${spec.tokens.join('\n')}\n`);
  }
  const script = join(workDir, `wrk-${id}.lua`);
  writeFileSync(
    script,
    WRK_SCRIPT.replace('TOKENS_FILE', luaString(tokensFile))
      .replace(
        'METHOD, PATH, BODY',
        `${luaString(spec.method)}, ${luaString(spec.path)}, ${spec.body ? luaString(spec.body) : 'nil'}`,
      )
      .replace('PREFIX', luaString(spec.keyPrefix ?? id)),
  );
  const args = [
    `-t${threads}`,
    `-c${Math.max(spec.connections, threads)}`,
    `-d${spec.durationS}s`,
    '--timeout',
    '10s',
    '-s',
    script,
    `${spec.base}${spec.path}`,
  ];
  const child = spawn(wrkBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  // wrk's own CPU: sampled while it runs (the last sample is within 100 ms of its end).
  let cpu = 0;
  const sampler = setInterval(() => {
    const c = pidCpuSeconds(child.pid!);
    if (c > 0) cpu = c;
  }, 100);
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  clearInterval(sampler);
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${out.slice(-2000)}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length));
  const durationS = j.duration_us / 1e6;
  return {
    generator: 'wrk',
    connections: spec.connections,
    durationS,
    requests: j.requests,
    rps: j.requests / durationS,
    non2xx: j.status,
    socketErrors: j.connect + j.read + j.write + j.timeout,
    latencyMs: {
      p50: j.p50 / 1000,
      p90: j.p90 / 1000,
      p99: j.p99 / 1000,
      p999: j.p999 / 1000,
      mean: j.mean / 1000,
      max: j.max / 1000,
    },
    generatorCpuS: cpu,
  };
}

export async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const tokens = spec.tokens ?? [];
  const prefix = `${spec.keyPrefix ?? Date.now().toString(36)}-ac-`;
  let n = Math.floor(Math.random() * Math.max(1, tokens.length));
  const cpu0 = process.cpuUsage();
  const r = await autocannon({
    url: `${spec.base}${spec.path}`,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationS,
    method: spec.method,
    ...(spec.body ? { body: spec.body } : {}),
    ...(tokens.length
      ? {
          requests: [
            {
              method: spec.method,
              path: spec.path,
              setupRequest: (req) => {
                n++;
                req.headers = {
                  authorization: `Bearer ${tokens[n % tokens.length]}`,
                  'idempotency-key': prefix + n,
                  'content-type': 'application/json',
                };
                if (spec.body) req.body = spec.body;
                return req;
              },
            },
          ],
        }
      : {}),
  });
  const cpu = process.cpuUsage(cpu0);
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count;
  return {
    generator: 'autocannon',
    connections: spec.connections,
    durationS: r.duration,
    requests: r.requests.total,
    rps: r.requests.total / r.duration,
    non2xx: r.non2xx,
    socketErrors: r.errors + r.timeouts,
    latencyMs: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      p999: r.latency.p99_9,
      mean: r.latency.mean,
      max: r.latency.max,
    },
    generatorCpuS: (cpu.user + cpu.system) / 1e6,
    statusCodes,
  };
}
