/**
 * Offline validation of Kubernetes objects, with no cluster: each object is built through the
 * kubernetes-models class of its apiVersion and kind and checked against that API's schema
 * (Kubernetes v1.36.0 OpenAPI), then against the API server's rules the schema does not express
 * (name formats, label syntax, size limits, selectors matching their pods, ports the probes name).
 */
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { K8S_VERSION } from './options.ts';

export interface ManifestProblem {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly message: string;
}

type Validatable = new (data: Record<string, unknown>) => { validate(): void };

/** The APIs we generate, all served by Kubernetes 1.36; anything else is reported. */
const MODELS = new Map<string, { model: Validatable; namespaced: boolean }>(
  (
    [
      [Namespace, false],
      [ServiceAccount, true],
      [ConfigMap, true],
      [Service, true],
      [Deployment, true],
      [HorizontalPodAutoscaler, true],
      [PodDisruptionBudget, true],
      [NetworkPolicy, true],
    ] as const
  ).map(([m, namespaced]) => [
    `${m.apiVersion}/${m.kind}`,
    { model: m as unknown as Validatable, namespaced },
  ]),
);

export const VALIDATED_APIS: readonly string[] = [...MODELS.keys()];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/** The API server's limits: a ConfigMap's data, an object's annotations. */
export const CONFIG_MAP_MAX_BYTES = 1024 * 1024;
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
const asArr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(asObj) : []);

export function validateManifests(objects: readonly unknown[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const seen = new Set<string>();
  for (const value of objects) {
    const o = asObj(value);
    const meta = asObj(o.metadata);
    const kind = typeof o.kind === 'string' ? o.kind : '(no kind)';
    const name = typeof meta.name === 'string' ? meta.name : '(no name)';
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;
    const report = (message: string) => problems.push({ kind, namespace, name, message });

    const api = MODELS.get(`${String(o.apiVersion)}/${kind}`);
    if (!api) {
      report(
        `${String(o.apiVersion)} ${kind} is not one of the APIs validated for Kubernetes ${K8S_VERSION}`,
      );
      continue;
    }
    try {
      new api.model(o).validate();
    } catch (err) {
      report(`schema: ${(err as Error).message}`);
    }
    const key = `${o.apiVersion}/${kind}/${namespace ?? ''}/${name}`;
    if (seen.has(key)) report('duplicate object');
    seen.add(key);
    for (const message of serverRules(o, kind, api.namespaced)) report(message);
  }
  return problems;
}

export function formatProblem(p: ManifestProblem): string {
  return `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}: ${p.message}`;
}

function serverRules(o: Obj, kind: string, namespaced: boolean): string[] {
  const out: string[] = [];
  const meta = asObj(o.metadata);
  const name = meta.name;
  if (typeof name !== 'string' || name === '') out.push('metadata.name is required');
  else if (kind === 'Namespace' && !(name.length <= 63 && DNS_LABEL.test(name)))
    out.push(`metadata.name "${name}" is not a DNS-1123 label`);
  else if (kind === 'Service' && !(name.length <= 63 && DNS_1035_LABEL.test(name)))
    out.push(`metadata.name "${name}" is not a DNS-1035 label`);
  else if (!(name.length <= 253 && DNS_SUBDOMAIN.test(name)))
    out.push(`metadata.name "${name}" is not a DNS-1123 subdomain`);
  if (namespaced && typeof meta.namespace !== 'string') out.push('metadata.namespace is required');
  if (!namespaced && meta.namespace !== undefined)
    out.push(`${kind} is cluster-scoped: no metadata.namespace`);
  out.push(...labelProblems(asObj(meta.labels), 'metadata.labels'));
  const annotationBytes = Object.entries(asObj(meta.annotations)).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)),
    0,
  );
  if (annotationBytes > ANNOTATIONS_MAX_BYTES)
    out.push(`annotations take ${annotationBytes} bytes, over 256 KiB`);

  const spec = asObj(o.spec);
  if (kind === 'ConfigMap') out.push(...configMapProblems(asObj(o.data)));
  if (kind === 'Deployment') out.push(...deploymentProblems(spec));
  if (kind === 'HorizontalPodAutoscaler' && Number(spec.minReplicas ?? 1) > Number(spec.maxReplicas))
    out.push('spec.minReplicas is above spec.maxReplicas');
  return out;
}

function labelProblems(labels: Obj, at: string): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = key.slice(slash + 1);
    if (prefix !== undefined && !(prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)))
      out.push(`${at}: key "${key}" has an invalid prefix`);
    if (!(name.length <= 63 && LABEL_NAME.test(name))) out.push(`${at}: key "${key}" is not a label name`);
    const v = String(value);
    if (!(v === '' || (v.length <= 63 && LABEL_NAME.test(v))))
      out.push(`${at}: value "${v}" of "${key}" is not a label value`);
  }
  return out;
}

function configMapProblems(data: Obj): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (const [key, value] of Object.entries(data)) {
    if (!(key.length <= 253 && CONFIG_KEY.test(key)))
      out.push(`data key "${key}" is not a valid ConfigMap key`);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(String(value));
  }
  if (bytes > CONFIG_MAP_MAX_BYTES) out.push(`data takes ${bytes} bytes, over the 1 MiB ConfigMap limit`);
  return out;
}

function deploymentProblems(spec: Obj): string[] {
  const out: string[] = [];
  const template = asObj(spec.template);
  const podLabels = asObj(asObj(template.metadata).labels);
  for (const [k, v] of Object.entries(asObj(asObj(spec.selector).matchLabels))) {
    if (podLabels[k] !== v)
      out.push(`spec.selector does not match the template's labels (${k}=${String(v)})`);
  }
  out.push(...labelProblems(podLabels, 'spec.template.metadata.labels'));
  const pod = asObj(template.spec);
  const volumes = new Set(asArr(pod.volumes).map((v) => v.name));
  const names = new Set<unknown>();
  for (const c of asArr(pod.containers)) {
    const at = `container ${String(c.name)}`;
    if (typeof c.name !== 'string' || !(c.name.length <= 63 && DNS_LABEL.test(c.name)))
      out.push(`${at}: name is not a DNS-1123 label`);
    if (names.has(c.name)) out.push(`${at}: duplicate container name`);
    names.add(c.name);
    const ports = new Set<unknown>();
    for (const p of asArr(c.ports)) {
      if (p.name === undefined) continue;
      const n = String(p.name);
      if (!(n.length <= 15 && IANA_SVC_NAME.test(n) && /[a-z]/.test(n) && !n.includes('--')))
        out.push(`${at}: port name "${n}" is not an IANA service name (<= 15 chars)`);
      ports.add(p.name);
    }
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const port = asObj(asObj(c[probe]).httpGet).port;
      if (typeof port === 'string' && !ports.has(port))
        out.push(`${at}: ${probe} names port "${port}" it does not have`);
    }
    for (const m of asArr(c.volumeMounts)) {
      if (!volumes.has(m.name)) out.push(`${at}: mounts volume "${String(m.name)}" the pod does not have`);
    }
    const resources = asObj(c.resources);
    const requests = asObj(resources.requests);
    const limits = asObj(resources.limits);
    for (const r of Object.keys(requests)) {
      const req = quantity(requests[r]);
      const lim = quantity(limits[r]);
      if (req !== undefined && lim !== undefined && req > lim)
        out.push(`${at}: ${r} request is above its limit`);
    }
  }
  return out;
}

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
};

/** A resource quantity as a number; undefined when absent or in a form not compared here. */
export function quantity(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?$/.exec(value);
  return m ? Number(m[1]) * SUFFIX[m[2] ?? '']! : undefined;
}
