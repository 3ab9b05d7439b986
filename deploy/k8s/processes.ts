/**
 * The processes a cell runs, derived from services/registry.ts (every service with an `entry` and a
 * port) plus the edge: their names in Kubernetes, what they do, how many replicas and how much CPU
 * and memory. A service added to the registry gets a Deployment with the defaults below.
 */
import type { CellPools } from '../../cells/index.ts';
import type { ServiceEntry } from '../../services/registry.ts';

export interface Resources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

export interface CellProcess {
  /** Deployment and Service name. */
  readonly name: string;
  /** app.kubernetes.io/component */
  readonly component: 'edge' | 'service' | 'outbox-relay';
  /** Repository-relative entry file, run as `node --import tsx <entry>`. */
  readonly entry: string;
  readonly port: number;
  readonly portEnv: string;
  /** The variable other processes find it by (`TITAN_AUTH_URL`); the edge has none. */
  readonly urlEnv: string | undefined;
  /** What the process does, written as an annotation on its Deployment. */
  readonly runs: string;
  /** Fixed replicas; the edge has none (its HPA owns the count). */
  readonly replicas: number | undefined;
  readonly resources: Resources;
  /** Grace period: the edge drains in TITAN_SHUTDOWN_TIMEOUT_MS (15 s) plus the preStop pause. */
  readonly terminationGraceSeconds: number;
}

const EDGE_PORT = { env: 'TITAN_EDGE_PORT', default: 8080 };

interface Profile {
  name?: string;
  component?: CellProcess['component'];
  runs: string;
  replicas?: number;
  resources?: Resources;
}

const DEFAULT_RESOURCES: Resources = {
  requests: { cpu: '250m', memory: '256Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

/** What is known about the registry's services; unknown ones get a generic profile. */
const PROFILES: Record<string, Profile> = {
  events: {
    name: 'events-relay',
    component: 'outbox-relay',
    runs:
      'outbox relay: moves every cell outbox stream (one lease per cell, so replicas stand by) and the ' +
      'PostgreSQL outbox (advisory locks) onto the event bus',
  },
  user: { runs: 'user service: profiles, personal data encrypted at rest, erasure' },
  auth: {
    runs: 'auth service: login, tokens, JWKS, MFA',
    // scrypt at log N 15 takes 32 MiB per hash in flight.
    resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } },
  },
  catalog: { runs: 'catalog service' },
  'flash-sale': {
    runs:
      'flash-sale control plane and sweeper: loads sales into the cells, rebalances quotas, sweeps ' +
      'expired reservations back to stock, finishes pending transfers; one leader at a time ' +
      '(PostgreSQL advisory lock), every replica serves snapshots',
  },
};

const sumThreads = (pools: CellPools, key: 'minThreads' | 'maxThreads') =>
  pools.flashSale[key] + pools.inventory[key] + pools.fraud[key];

/**
 * The edge runs the cell's engine pools as worker threads, so its resources follow the cell's pool
 * settings: 250m CPU requested per thread kept alive (plus the main thread), 500m allowed per thread
 * it may grow to; 256 MiB plus 32 MiB per possible thread requested, twice that allowed.
 */
export function edgeResources(pools: CellPools): Resources {
  const min = sumThreads(pools, 'minThreads');
  const max = sumThreads(pools, 'maxThreads');
  const memory = 256 + 32 * max;
  return {
    requests: { cpu: `${250 * (1 + min)}m`, memory: `${memory}Mi` },
    limits: { cpu: `${500 * (1 + max)}m`, memory: `${2 * memory}Mi` },
  };
}

export function cellProcesses(services: readonly ServiceEntry[], pools: CellPools): CellProcess[] {
  const out: CellProcess[] = services
    .filter((s) => s.entry !== undefined && s.port !== undefined)
    .map((s) => {
      const p = PROFILES[s.name] ?? { runs: `${s.name} service` };
      return {
        name: p.name ?? s.name,
        component: p.component ?? 'service',
        entry: s.entry!,
        port: s.port!.default,
        portEnv: s.port!.env,
        urlEnv: urlEnvOf(s.name),
        runs: p.runs,
        replicas: p.replicas ?? 2,
        resources: p.resources ?? DEFAULT_RESOURCES,
        terminationGraceSeconds: 30,
      };
    });
  out.push({
    name: 'edge',
    component: 'edge',
    entry: 'edge/main.ts',
    port: EDGE_PORT.default,
    portEnv: EDGE_PORT.env,
    urlEnv: undefined,
    runs: "edge: the HTTP/WebSocket front door, routing users to cells and running the cell's engine pools",
    replicas: undefined,
    resources: edgeResources(pools),
    terminationGraceSeconds: 30,
  });
  return out;
}

/** `TITAN_<NAME>_URL`, the variable other processes find a service by (as deploy/local/platform.ts sets it). */
export function urlEnvOf(serviceName: string): string {
  return `TITAN_${serviceName.toUpperCase().replaceAll('-', '_')}_URL`;
}
