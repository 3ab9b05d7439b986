/**
 * `generateK8sManifests(map, options)`: the Kubernetes objects that run every cell of a cell map,
 * as plain objects (apiVersion, kind, metadata, spec). Pure: no files, no cluster.
 *
 * Per cell, in namespace `titan-cell-<id>`: a ServiceAccount, the configuration (a ConfigMap of
 * settings and one holding the cell map), NetworkPolicies, and per process (the edge and every
 * registry service with an entry) a Deployment, a Service and a PodDisruptionBudget, plus the edge's
 * HorizontalPodAutoscaler. Shared infrastructure is referenced (Secrets, broker and seed lists),
 * never created.
 */
import { createHash } from 'node:crypto';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { type Cell, type CellMap, serializeCellMap } from '../../cells/index.ts';
import { networkPolicies } from './network.ts';
import { K8S_VERSION, type K8sOptions, LABEL_PREFIX } from './options.ts';
import { type CellProcess, cellProcesses } from './processes.ts';

export type K8sObject =
  | INamespace
  | IServiceAccount
  | IConfigMap
  | INetworkPolicy
  | IDeployment
  | IService
  | IPodDisruptionBudget
  | IHorizontalPodAutoscaler;

export const namespaceOf = (cell: number) => `titan-cell-${cell}`;
export const CELL_LABEL = `${LABEL_PREFIX}/cell`;
export const CONFIG_NAME = 'titan-cell-config';
export const MAP_CONFIG_NAME = 'titan-cell-map';
export const SERVICE_ACCOUNT = 'titan';
/** Where the cell map is mounted; the whole ConfigMap volume (no subPath) so updates reach the file. */
export const CELL_MAP_DIR = '/etc/titan/cell-map';
export const CELL_MAP_FILE = 'cell-map.json';
/** The image's working directory: the repository with its node_modules. */
export const APP_DIR = '/app';
/** UID/GID the processes run as: not root, so `runAsNonRoot` holds whatever the image's USER. */
export const RUN_AS = 10001;
/**
 * Listen address for the services (`serviceListenHost()` in services/kit; loopback by default). In a pod
 * they must bind every interface, so probes and the other pods reach them.
 */
export const LISTEN_HOST_ENV = 'TITAN_LISTEN_HOST';

export function generateK8sManifests(map: CellMap, options: K8sOptions): K8sObject[] {
  const mapJson = serializeCellMap(map);
  return map.cells.flatMap((cell) => cellManifests(map, cell, mapJson, options));
}

/** The objects of one cell; `mapJson` is the serialized map (shared, so 500 cells hold one string). */
export function cellManifests(map: CellMap, cell: Cell, mapJson: string, options: K8sOptions): K8sObject[] {
  const namespace = namespaceOf(cell.id);
  const cellLabels = {
    'app.kubernetes.io/part-of': 'titan-commerce',
    'app.kubernetes.io/managed-by': 'titan-deploy-k8s',
    [CELL_LABEL]: String(cell.id),
  };
  const processes = cellProcesses(options.services, cell.pools);
  const config = cellConfig(cell, processes, options);
  const configHash = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  const edge = processes.find((p) => p.component === 'edge')!;

  const objects: K8sObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: {
          ...cellLabels,
          [`${LABEL_PREFIX}/shard`]: cell.shard,
          // The pods below meet the restricted Pod Security Standard; let the cluster hold them to it.
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': `v${K8S_VERSION}`,
        },
        annotations: {
          [`${LABEL_PREFIX}/cell-map`]: `${map.name} v${map.version}`,
          [`${LABEL_PREFIX}/cell-status`]: cell.status,
          [`${LABEL_PREFIX}/backup-cell`]: String(cell.backup),
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: SERVICE_ACCOUNT, namespace, labels: cellLabels },
      // The processes never call the Kubernetes API.
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: CONFIG_NAME, namespace, labels: cellLabels },
      data: config,
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: MAP_CONFIG_NAME,
        namespace,
        labels: cellLabels,
        annotations: { [`${LABEL_PREFIX}/cell-map-version`]: String(map.version) },
      },
      data: { [CELL_MAP_FILE]: mapJson },
    },
    ...networkPolicies(namespace, cellLabels, { selector: selectorOf(edge, cell), port: edge.port }, options),
  ];
  for (const p of processes) {
    objects.push(deployment(p, cell, namespace, cellLabels, configHash, options));
    objects.push(service(p, cell, namespace, cellLabels));
    objects.push(disruptionBudget(p, cell, namespace, cellLabels));
  }
  objects.push(edgeAutoscaler(edge, namespace, cellLabels, options));
  return objects;
}

function selectorOf(p: CellProcess, cell: Cell): Record<string, string> {
  return { 'app.kubernetes.io/name': p.name, [CELL_LABEL]: String(cell.id) };
}

function processLabels(p: CellProcess, cellLabels: Record<string, string>): Record<string, string> {
  return { ...cellLabels, 'app.kubernetes.io/name': p.name, 'app.kubernetes.io/component': p.component };
}

/** Settings every process of the cell reads (unknown ones are ignored by each process's loader). */
function cellConfig(cell: Cell, processes: CellProcess[], options: K8sOptions): Record<string, string> {
  const data: Record<string, string> = {
    TITAN_CELL_ID: String(cell.id),
    TITAN_CELL_MAP: `${CELL_MAP_DIR}/${CELL_MAP_FILE}`,
    TITAN_EDGE_HOST: '0.0.0.0',
    [LISTEN_HOST_ENV]: '0.0.0.0',
    // Kubernetes scales edge pods; one edge process per pod.
    TITAN_EDGE_PROCESSES: '1',
    TITAN_LOG_LEVEL: 'info',
    NODE_ENV: 'production',
  };
  for (const p of processes) {
    data[p.portEnv] = String(p.port);
    // Short Service names resolve within the cell's namespace.
    if (p.urlEnv) data[p.urlEnv] = `http://${p.name}:${p.port}`;
  }
  if (data.TITAN_AUTH_URL) data.TITAN_AUTH_JWKS_URL = `${data.TITAN_AUTH_URL}/v1/auth/jwks`;
  if (options.kafkaBrokers.length > 0) {
    data.TITAN_BUS = 'kafka';
    data.TITAN_KAFKA_BROKERS = options.kafkaBrokers.join(',');
    data.TITAN_KAFKA_IDEMPOTENT = 'true';
  } else {
    data.TITAN_BUS = 'redis';
  }
  if (options.redisCluster.length > 0) data.TITAN_REDIS_CLUSTER_SEEDS = options.redisCluster.join(',');
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function container(p: CellProcess, options: K8sOptions): IContainer {
  const http = (path: string) => ({ path, port: 'http' });
  return {
    name: p.name,
    image: options.image,
    imagePullPolicy: options.imagePullPolicy,
    command: ['node', '--import', 'tsx', p.entry],
    workingDir: APP_DIR,
    ports: [{ name: 'http', containerPort: p.port, protocol: 'TCP' }],
    envFrom: [{ configMapRef: { name: CONFIG_NAME } }, { secretRef: { name: options.appSecret } }],
    env: [
      {
        name: 'TITAN_DATABASE_URL',
        valueFrom: { secretKeyRef: { name: options.postgresUrlSecret, key: 'url' } },
      },
      { name: 'TITAN_REDIS_URL', valueFrom: { secretKeyRef: { name: options.redisUrlSecret, key: 'url' } } },
    ],
    resources: {
      requests: { ...p.resources.requests },
      limits: { ...p.resources.limits },
    },
    // tsx compiles on start: give it a minute before liveness applies.
    startupProbe: { httpGet: http('/health'), periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 2 },
    readinessProbe: { httpGet: http('/ready'), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
    livenessProbe: { httpGet: http('/health'), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
    // Endpoints drop the pod before the process stops accepting.
    lifecycle: { preStop: { sleep: { seconds: 5 } } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'cell-map', mountPath: CELL_MAP_DIR, readOnly: true },
      // tsx's compile cache and Node's temp files; the root filesystem is read-only.
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}

function deployment(
  p: CellProcess,
  cell: Cell,
  namespace: string,
  cellLabels: Record<string, string>,
  configHash: string,
  options: K8sOptions,
): IDeployment {
  const selector = selectorOf(p, cell);
  const labels = processLabels(p, cellLabels);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: p.name, namespace, labels, annotations: { [`${LABEL_PREFIX}/runs`]: p.runs } },
    spec: {
      // The edge has no replica count here: its HPA owns it, and re-applying must not reset a scaled edge.
      ...(p.replicas === undefined ? {} : { replicas: p.replicas }),
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels,
          annotations: {
            // A settings change rolls the pods; cell map changes do not (processes reload the file).
            [`${LABEL_PREFIX}/config-hash`]: configHash,
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(p.port),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: p.terminationGraceSeconds,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            fsGroup: RUN_AS,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector },
            },
          ],
          containers: [container(p, options)],
          volumes: [
            { name: 'cell-map', configMap: { name: MAP_CONFIG_NAME } },
            { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
          ],
        },
      },
    },
  };
}

function service(
  p: CellProcess,
  cell: Cell,
  namespace: string,
  cellLabels: Record<string, string>,
): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: p.name, namespace, labels: processLabels(p, cellLabels) },
    spec: {
      type: 'ClusterIP',
      selector: selectorOf(p, cell),
      ports: [{ name: 'http', port: p.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

function disruptionBudget(
  p: CellProcess,
  cell: Cell,
  namespace: string,
  cellLabels: Record<string, string>,
): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: p.name, namespace, labels: processLabels(p, cellLabels) },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorOf(p, cell) },
      // A pod that is not ready serves nothing: draining a node may evict it regardless.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}

function edgeAutoscaler(
  edge: CellProcess,
  namespace: string,
  cellLabels: Record<string, string>,
  options: K8sOptions,
): IHorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: edge.name, namespace, labels: processLabels(edge, cellLabels) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: edge.name },
      minReplicas: options.edge.minReplicas,
      maxReplicas: options.edge.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: options.edge.targetCpuPercent },
          },
        },
      ],
      behavior: {
        // A flash sale opens all at once: double (or +4 pods) every 15 s, no waiting.
        scaleUp: {
          stabilizationWindowSeconds: 0,
          selectPolicy: 'Max',
          policies: [
            { type: 'Percent', value: 100, periodSeconds: 15 },
            { type: 'Pods', value: 4, periodSeconds: 15 },
          ],
        },
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
        },
      },
    },
  };
}
