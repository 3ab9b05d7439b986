/**
 * What the Kubernetes generator is told: the image, where the shared infrastructure is (by reference:
 * Secret names, broker and seed lists; never built here), and the edge's scaling bounds.
 */
import type { ServiceEntry } from '../../services/registry.ts';
import { K8sErrors } from './errors.ts';

/**
 * The Kubernetes version the manifests are written and validated for: the schemas of
 * kubernetes-models 5.1.0 are generated from the OpenAPI spec of Kubernetes v1.36.0.
 */
export const K8S_VERSION = '1.36';

/** Label and annotation prefix of our own keys. */
export const LABEL_PREFIX = 'titan-commerce.dev';

export interface EdgeScaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Average CPU utilization (of requests) the HPA aims for. */
  readonly targetCpuPercent: number;
}

export interface K8sOptions {
  /** The image holding the repository (with node_modules) at /app; every process runs from it. */
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Secret (in each cell namespace, key `url`) with the shared PostgreSQL URL: TITAN_DATABASE_URL. */
  readonly postgresUrlSecret: string;
  /** Secret (key `url`) with the shared Redis URL: TITAN_REDIS_URL (auth throttling, Redis Streams bus). */
  readonly redisUrlSecret: string;
  /** Secret whose keys become environment variables: TITAN_POW_SECRET, TITAN_PII_KEYS, ... */
  readonly appSecret: string;
  /** Redis Cluster seed URLs; become the shard Redis of generated maps and TITAN_REDIS_CLUSTER_SEEDS. */
  readonly redisCluster: readonly string[];
  /** Kafka brokers (host:port); when given the bus is Kafka, otherwise Redis Streams. */
  readonly kafkaBrokers: readonly string[];
  /** Only pods of this namespace (an ingress controller's) may reach the edge; unset: anyone may. */
  readonly ingressNamespace: string | undefined;
  /** When given, egress is limited to the cell's namespace, cluster DNS and these CIDRs (the shared infrastructure). */
  readonly egressCidrs: readonly string[];
  readonly edge: EdgeScaling;
  /** The services that run a process of their own (those with an `entry`); default services/registry.ts. */
  readonly services: readonly ServiceEntry[];
}

export const DEFAULT_IMAGE = 'titan-commerce:0.1.0';

export function k8sOptions(
  services: readonly ServiceEntry[],
  partial: Partial<Omit<K8sOptions, 'services' | 'edge'>> & { edge?: Partial<EdgeScaling> } = {},
): K8sOptions {
  const edge: EdgeScaling = { minReplicas: 2, maxReplicas: 20, targetCpuPercent: 70, ...partial.edge };
  const options: K8sOptions = {
    image: DEFAULT_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    postgresUrlSecret: 'titan-postgres',
    redisUrlSecret: 'titan-redis',
    appSecret: 'titan-app-secrets',
    redisCluster: [],
    kafkaBrokers: [],
    ingressNamespace: undefined,
    egressCidrs: [],
    ...partial,
    edge,
    services,
  };
  const problems = optionProblems(options);
  if (problems.length > 0) throw K8sErrors.K8S_OPTIONS_INVALID(problems.join('; '), { problems });
  return options;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

function optionProblems(o: K8sOptions): string[] {
  const problems: string[] = [];
  if (!o.image.trim() || /\s/.test(o.image)) problems.push(`image: "${o.image}" is not an image reference`);
  for (const [flag, name] of [
    ['postgres-url-secret', o.postgresUrlSecret],
    ['redis-url-secret', o.redisUrlSecret],
    ['app-secret', o.appSecret],
  ] as const) {
    if (!DNS_SUBDOMAIN.test(name)) problems.push(`${flag}: "${name}" is not a valid Secret name`);
  }
  for (const seed of o.redisCluster) {
    if (!/^rediss?:\/\/\S+$/.test(seed)) problems.push(`redis-cluster: "${seed}" is not a redis:// URL`);
  }
  for (const broker of o.kafkaBrokers) {
    if (!/^[^\s,:]+:\d{1,5}$/.test(broker)) problems.push(`kafka-brokers: "${broker}" is not host:port`);
  }
  if (o.ingressNamespace !== undefined && !DNS_LABEL.test(o.ingressNamespace)) {
    problems.push(`ingress-namespace: "${o.ingressNamespace}" is not a namespace name`);
  }
  for (const cidr of o.egressCidrs) {
    if (!CIDR.test(cidr)) problems.push(`egress-cidrs: "${cidr}" is not a CIDR`);
  }
  const { minReplicas, maxReplicas, targetCpuPercent } = o.edge;
  if (!Number.isInteger(minReplicas) || minReplicas < 1) problems.push('edge min replicas must be >= 1');
  if (!Number.isInteger(maxReplicas) || maxReplicas < minReplicas)
    problems.push('edge max replicas must be an integer >= min replicas');
  if (!Number.isInteger(targetCpuPercent) || targetCpuPercent < 1 || targetCpuPercent > 100)
    problems.push('edge target CPU must be 1-100 (%)');
  return problems;
}
