// The Kubernetes manifests of the cells, checked offline against the Kubernetes 1.36 API schemas
// (kubernetes-models) and against what they must do: scale and protect the edge, probe /ready and
// /health, keep cells apart. No cluster and no test stack are needed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import {
  type CellMap,
  LOCAL_CELL_MAP_PATH,
  loadCellMap,
  parseCellMap,
  serializeCellMap,
  tune,
} from '../../cells/index.ts';
import { SERVICES } from '../../services/registry.ts';
import {
  CELL_LABEL,
  cellManifests,
  clusterCellMap,
  edgeResources,
  generateK8sManifests,
  K8S_VERSION,
  type K8sObject,
  k8sOptions,
  namespaceOf,
  toYaml,
  toYamlDocuments,
  validateManifests,
} from './index.ts';
import { quantity } from './validate.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'titan-k8s-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ofKind = <T extends K8sObject>(
  objects: readonly K8sObject[],
  kind: T['kind'],
  namespace?: string,
): T[] =>
  objects.filter(
    (o): o is T => o.kind === kind && (namespace === undefined || o.metadata?.namespace === namespace),
  ) as T[];
const named = <T extends K8sObject>(objects: T[], name: string): T => {
  const found = objects.find((o) => o.metadata?.name === name);
  assert.ok(found, `no object named ${name}`);
  return found;
};
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

/** Services of the registry that run a process, and their Kubernetes names. */
const PROCESS_SERVICES = SERVICES.filter((s) => s.entry && s.port);
const k8sName = (registryName: string) => (registryName === 'events' ? 'events-relay' : registryName);
/** Namespace, ServiceAccount, 2 ConfigMaps, 3 NetworkPolicies, per process (Deployment, Service, PDB), the HPA. */
const PER_CELL = 1 + 1 + 2 + 3 + 3 * (PROCESS_SERVICES.length + 1) + 1;

describe('a 4-cell generation', () => {
  const map = clusterCellMap(4);
  const options = k8sOptions(SERVICES);
  const objects = generateK8sManifests(map, options);

  test('every object is valid for Kubernetes 1.36 (kubernetes-models schemas and API server rules)', () => {
    assert.equal(K8S_VERSION, '1.36');
    assert.deepEqual(validateManifests(objects), []);
    assert.equal(PROCESS_SERVICES.length, 5);
    assert.equal(objects.length, 4 * PER_CELL);
    assert.deepEqual(
      ofKind(objects, 'Namespace').map((n) => n.metadata?.name),
      ['titan-cell-0', 'titan-cell-1', 'titan-cell-2', 'titan-cell-3'],
    );
    const kinds = new Set(objects.map((o) => o.kind));
    // Shared infrastructure is referenced, never built: no StatefulSet, no Secret.
    assert.deepEqual([...kinds].sort(), [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Namespace',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
  });

  test('each cell runs the edge and every registry service with an entry, on the registry ports', () => {
    for (const cell of map.cells) {
      const ns = namespaceOf(cell.id);
      const deployments = ofKind<IDeployment>(objects, 'Deployment', ns);
      const services = ofKind<IService>(objects, 'Service', ns);
      const expected = [
        ...PROCESS_SERVICES.map((s) => ({ name: k8sName(s.name), s })),
        { name: 'edge', s: undefined },
      ];
      assert.deepEqual(deployments.map((d) => d.metadata?.name).sort(), expected.map((e) => e.name).sort());
      for (const { name, s } of expected) {
        const d = named(deployments, name);
        const c = d.spec!.template.spec!.containers[0]!;
        assert.deepEqual(c.command, ['node', '--import', 'tsx', s?.entry ?? 'edge/main.ts']);
        const port = c.ports!.find((p) => p.name === 'http')!.containerPort;
        assert.equal(port, s?.port?.default ?? 8080);
        const svc = named(services, name);
        assert.ok(
          matches(svc.spec!.selector, d.spec!.template.metadata!.labels),
          `${name}: service selects its pods`,
        );
        assert.equal(svc.spec!.ports![0]!.port, port);
        assert.equal(svc.spec!.ports![0]!.targetPort, 'http');
        assert.equal(d.spec!.template.metadata!.labels![CELL_LABEL], String(cell.id));
      }
      const flashSale = named(deployments, 'flash-sale');
      assert.match(
        flashSale.metadata!.annotations!['titan-commerce.dev/runs']!,
        /sweeps expired reservations/,
      );
    }
  });

  test('the HPA scales the edge Deployment and the PDB covers exactly the edge pods', () => {
    for (const cell of map.cells) {
      const ns = namespaceOf(cell.id);
      const deployments = ofKind<IDeployment>(objects, 'Deployment', ns);
      const edge = named(deployments, 'edge');
      const hpas = ofKind<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler', ns);
      assert.equal(hpas.length, 1);
      const hpa = hpas[0]!;
      assert.equal(hpa.apiVersion, 'autoscaling/v2');
      assert.deepEqual(hpa.spec!.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'edge' });
      assert.equal(hpa.spec!.minReplicas, 2);
      assert.equal(hpa.spec!.maxReplicas, 20);
      assert.equal(hpa.spec!.metrics![0]!.resource!.name, 'cpu');
      // The HPA owns the edge's replica count; the Deployment must not fight it on re-apply.
      assert.equal(edge.spec!.replicas, undefined);

      const pdb = named(ofKind<IPodDisruptionBudget>(objects, 'PodDisruptionBudget', ns), 'edge');
      assert.equal(pdb.apiVersion, 'policy/v1');
      const selector = pdb.spec!.selector!.matchLabels;
      for (const d of deployments) {
        assert.equal(
          matches(selector, d.spec!.template.metadata!.labels),
          d.metadata!.name === 'edge',
          `edge PDB selects ${d.metadata!.name}`,
        );
      }
      assert.ok(pdb.spec!.maxUnavailable !== undefined || pdb.spec!.minAvailable !== undefined);
    }
  });

  test('every container: probes on /ready and /health at its port, resources, non-root read-only', () => {
    const deployments = ofKind<IDeployment>(objects, 'Deployment');
    assert.equal(deployments.length, 4 * (PROCESS_SERVICES.length + 1));
    for (const d of deployments) {
      const pod = d.spec!.template.spec!;
      for (const c of pod.containers) {
        const at = `${d.metadata!.namespace}/${d.metadata!.name}`;
        assert.equal(c.readinessProbe?.httpGet?.path, '/ready', at);
        assert.equal(c.livenessProbe?.httpGet?.path, '/health', at);
        const http = c.ports!.find((p) => p.name === c.readinessProbe!.httpGet!.port);
        assert.ok(http, `${at}: readiness probes a port the container has`);
        assert.equal(c.livenessProbe!.httpGet!.port, http.name);
        for (const r of ['cpu', 'memory']) {
          const req = quantity(c.resources?.requests?.[r]);
          const lim = quantity(c.resources?.limits?.[r]);
          assert.ok(
            req !== undefined && lim !== undefined && req > 0 && req <= lim,
            `${at}: ${r} request/limit`,
          );
        }
        assert.equal(c.securityContext?.runAsNonRoot, true);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
        // The read-only root needs a writable /tmp (tsx's cache), and the map is mounted whole (updates arrive).
        const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m]));
        assert.ok(mounts['/tmp'] && mounts['/etc/titan/cell-map']);
        assert.equal(mounts['/etc/titan/cell-map']!.subPath, undefined);
      }
      assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    }
  });

  test('configuration comes from the cell: its id, the cell map, shared infrastructure by reference', () => {
    for (const cell of map.cells) {
      const ns = namespaceOf(cell.id);
      const configs = ofKind<IConfigMap>(objects, 'ConfigMap', ns);
      const settings = named(configs, 'titan-cell-config').data!;
      assert.equal(settings.TITAN_CELL_ID, String(cell.id));
      assert.equal(settings.TITAN_CELL_MAP, '/etc/titan/cell-map/cell-map.json');
      assert.equal(settings.TITAN_AUTH_JWKS_URL, 'http://auth:8101/v1/auth/jwks');
      assert.equal(settings.TITAN_BUS, 'redis');
      const stored = parseCellMap(named(configs, 'titan-cell-map').data!['cell-map.json'], { env: false });
      assert.deepEqual(stored, map);
      // No credentials in the map: its URLs are placeholders filled from the Secrets.
      assert.deepEqual(stored.shards[0]!.redis, { url: `\${TITAN_REDIS_URL}` });
      const c = named(ofKind<IDeployment>(objects, 'Deployment', ns), 'auth').spec!.template.spec!
        .containers[0]!;
      const fromSecret = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
      assert.deepEqual(fromSecret.TITAN_DATABASE_URL, { name: 'titan-postgres', key: 'url' });
      assert.deepEqual(fromSecret.TITAN_REDIS_URL, { name: 'titan-redis', key: 'url' });
      assert.deepEqual(c.envFrom, [
        { configMapRef: { name: 'titan-cell-config' } },
        { secretRef: { name: 'titan-app-secrets' } },
      ]);
    }
  });

  test('the edge is sized from its cell pool settings, and flags reach the configuration', () => {
    const tuned = tune(map, 2, 'flashSale', { minThreads: 6, maxThreads: 12 });
    const custom = k8sOptions(SERVICES, {
      image: 'registry.example/titan:1.2.3',
      kafkaBrokers: ['kafka-0.kafka:9092', 'kafka-1.kafka:9092'],
      redisCluster: ['redis://redis-0.redis:6379', 'redis://redis-1.redis:6379'],
      edge: { minReplicas: 3, maxReplicas: 40 },
    });
    const out = generateK8sManifests(tuned, custom);
    assert.deepEqual(validateManifests(out), []);
    const edgeOf = (cell: number) =>
      named(ofKind<IDeployment>(out, 'Deployment', namespaceOf(cell)), 'edge').spec!.template.spec!
        .containers[0]!;
    assert.deepEqual(edgeOf(2).resources, edgeResources(tuned.cells[2]!.pools));
    assert.deepEqual(edgeOf(1).resources, edgeResources(tuned.cells[1]!.pools));
    assert.ok(quantity(edgeOf(2).resources!.requests!.cpu)! > quantity(edgeOf(1).resources!.requests!.cpu)!);
    assert.equal(edgeOf(2).image, 'registry.example/titan:1.2.3');
    const settings = named(ofKind<IConfigMap>(out, 'ConfigMap', namespaceOf(0)), 'titan-cell-config').data!;
    assert.equal(settings.TITAN_BUS, 'kafka');
    assert.equal(settings.TITAN_KAFKA_BROKERS, 'kafka-0.kafka:9092,kafka-1.kafka:9092');
    assert.equal(settings.TITAN_REDIS_CLUSTER_SEEDS, 'redis://redis-0.redis:6379,redis://redis-1.redis:6379');
    const hpa = ofKind<IHorizontalPodAutoscaler>(out, 'HorizontalPodAutoscaler', namespaceOf(0))[0]!;
    assert.equal(hpa.spec!.minReplicas, 3);
    assert.equal(hpa.spec!.maxReplicas, 40);
    const seeded = clusterCellMap(3, { redisCluster: custom.redisCluster });
    assert.deepEqual(seeded.shards[0]!.redis, { cluster: [...custom.redisCluster] });
  });

  test('bad options are refused, naming the flag', () => {
    assert.throws(
      () => k8sOptions(SERVICES, { egressCidrs: ['10.0.0.0/8', 'nope'], postgresUrlSecret: 'Bad_Name' }),
      (err: Error & { code?: string }) =>
        err.code === 'K8S_OPTIONS_INVALID' &&
        /egress-cidrs: "nope"/.test(err.message) &&
        /postgres-url-secret/.test(err.message),
    );
    assert.throws(() => k8sOptions(SERVICES, { edge: { minReplicas: 5, maxReplicas: 2 } }), /max replicas/);
  });
});

/**
 * Kubernetes NetworkPolicy ingress semantics (networking.k8s.io/v1) for the subset used here: a pod
 * selected by any Ingress policy is isolated and admits only what one of those policies' rules allows.
 */
function ingressAllowed(
  policies: readonly INetworkPolicy[],
  to: { namespace: string; labels: Record<string, string>; port: number },
  from: { namespace: string; labels: Record<string, string> },
): boolean {
  const selecting = policies.filter(
    (p) =>
      p.metadata?.namespace === to.namespace &&
      (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress') &&
      matchesSelector(p.spec?.podSelector, to.labels),
  );
  if (selecting.length === 0) return true;
  const fromNamespaceLabels = { 'kubernetes.io/metadata.name': from.namespace };
  return selecting.some((p) =>
    (p.spec?.ingress ?? []).some((rule) => {
      const portOk =
        !rule.ports?.length ||
        rule.ports.some((rp) => rp.port === to.port && (rp.protocol ?? 'TCP') === 'TCP');
      const peerOk =
        !rule.from?.length ||
        rule.from.some((peer) => {
          if (peer.ipBlock) throw new Error('ipBlock peers are not modelled here');
          const nsOk = peer.namespaceSelector
            ? matchesSelector(peer.namespaceSelector, fromNamespaceLabels)
            : from.namespace === to.namespace;
          const podOk = peer.podSelector ? matchesSelector(peer.podSelector, from.labels) : true;
          return nsOk && podOk;
        });
      return portOk && peerOk;
    }),
  );
}

function matchesSelector(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined,
  labels: Record<string, string>,
): boolean {
  if (selector?.matchExpressions?.length) throw new Error('matchExpressions are not modelled here');
  return matches(selector?.matchLabels, labels);
}

describe('NetworkPolicies keep cells apart', () => {
  const map = clusterCellMap(3);
  const podLabels = (objects: K8sObject[], cell: number, name: string) => {
    const d = named(ofKind<IDeployment>(objects, 'Deployment', namespaceOf(cell)), name);
    return { namespace: namespaceOf(cell), labels: d.spec!.template.metadata!.labels! };
  };

  test('another cell reaches only the edge port; the own cell reaches everything; outsiders only the edge', () => {
    const objects = generateK8sManifests(map, k8sOptions(SERVICES));
    const policies = ofKind<INetworkPolicy>(objects, 'NetworkPolicy');
    const edge0 = podLabels(objects, 0, 'edge');
    const edge1 = podLabels(objects, 1, 'edge');
    for (const name of ['auth', 'user', 'catalog', 'flash-sale', 'events-relay']) {
      const target = podLabels(objects, 0, name);
      const port = 8101;
      assert.equal(ingressAllowed(policies, { ...target, port }, edge1), false, `cell 1 -> cell 0 ${name}`);
      assert.equal(
        ingressAllowed(policies, { ...target, port }, { namespace: 'default', labels: {} }),
        false,
        `outside -> ${name}`,
      );
      assert.equal(
        ingressAllowed(policies, { ...target, port }, edge0),
        true,
        `cell 0 edge -> cell 0 ${name}`,
      );
    }
    assert.equal(
      ingressAllowed(policies, { ...edge0, port: 8080 }, edge1),
      true,
      'cell 1 -> cell 0 edge port',
    );
    assert.equal(ingressAllowed(policies, { ...edge0, port: 8080 }, { namespace: 'x', labels: {} }), true);
    assert.equal(
      ingressAllowed(policies, { ...edge0, port: 9229 }, edge1),
      false,
      'cell 1 -> another edge port',
    );
    // Without the default deny, a cell would be open to everyone: the policy is what does it.
    const withoutDeny = policies.filter((p) => p.metadata?.name !== 'default-deny-ingress');
    const auth0 = podLabels(objects, 0, 'auth');
    assert.equal(
      ingressAllowed(withoutDeny, { ...auth0, port: 8101 }, edge1),
      false,
      'same-namespace policy isolates too',
    );
    const none = policies.filter((p) => p.metadata?.namespace !== namespaceOf(0));
    assert.equal(ingressAllowed(none, { ...auth0, port: 8101 }, edge1), true, 'the evaluator can say yes');
  });

  test('with an ingress namespace only it reaches the edge; egress CIDRs limit egress', () => {
    const objects = generateK8sManifests(
      map,
      k8sOptions(SERVICES, { ingressNamespace: 'ingress-nginx', egressCidrs: ['10.20.0.0/16'] }),
    );
    assert.deepEqual(validateManifests(objects), []);
    const policies = ofKind<INetworkPolicy>(objects, 'NetworkPolicy');
    const edge0 = podLabels(objects, 0, 'edge');
    const controller = { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
    assert.equal(ingressAllowed(policies, { ...edge0, port: 8080 }, controller), true);
    assert.equal(ingressAllowed(policies, { ...edge0, port: 8080 }, podLabels(objects, 1, 'edge')), false);
    const egress = named(
      policies.filter((p) => p.metadata?.namespace === namespaceOf(0)),
      'restrict-egress',
    );
    assert.deepEqual(egress.spec!.policyTypes, ['Egress']);
    assert.ok(egress.spec!.egress!.some((r) => r.to?.some((peer) => peer.ipBlock?.cidr === '10.20.0.0/16')));
  });
});

describe('the validator', () => {
  const map = clusterCellMap(2);
  const good = generateK8sManifests(map, k8sOptions(SERVICES));
  const edge = named(ofKind<IDeployment>(good, 'Deployment', namespaceOf(0)), 'edge');
  const clone = <T>(v: T): T => structuredClone(v);

  test('reports broken objects by kind, namespace and name', () => {
    const noSelector = clone(edge) as any;
    noSelector.metadata.name = 'edge-1';
    delete noSelector.spec.selector;
    const stringPort = clone(edge) as any;
    stringPort.metadata.name = 'edge-2';
    stringPort.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    const mismatch = clone(edge) as any;
    mismatch.metadata.name = 'edge-3';
    mismatch.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other';
    const removedApi = {
      ...clone(ofKind(good, 'HorizontalPodAutoscaler')[0]!),
      apiVersion: 'autoscaling/v2beta2',
    };
    const badNamespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Titan_Cell' } };
    const huge = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'huge', namespace: 'titan-cell-0' },
      data: { big: 'x'.repeat(1024 * 1024 + 1) },
    };
    const badProbe = clone(edge) as any;
    badProbe.metadata.name = 'edge-4';
    badProbe.spec.template.spec.containers[0].readinessProbe.httpGet.port = 'metrics';

    const problems = validateManifests([
      ...good,
      noSelector,
      stringPort,
      mismatch,
      removedApi,
      badNamespace,
      huge,
      badProbe,
      good[0],
    ]);
    const about = (kind: string, name: string, pattern: RegExp) =>
      assert.ok(
        problems.some((p) => p.kind === kind && p.name === name && pattern.test(p.message)),
        `${kind} ${name} ${pattern}: ${JSON.stringify(problems)}`,
      );
    about('Deployment', 'edge-1', /required property selector/);
    about('Deployment', 'edge-2', /containerPort must be integer/);
    about('Deployment', 'edge-3', /selector does not match/);
    about('HorizontalPodAutoscaler', 'edge', /autoscaling\/v2beta2 .* not one of the APIs/);
    about('Namespace', 'Titan_Cell', /DNS-1123 label/);
    about('ConfigMap', 'huge', /over the 1 MiB/);
    about('Deployment', 'edge-4', /readinessProbe names port "metrics"/);
    about('Namespace', 'titan-cell-0', /duplicate/);
    assert.equal(problems.find((p) => p.name === 'edge-2')?.namespace, 'titan-cell-0');
    assert.equal(problems.length, 8, JSON.stringify(problems));
  });
});

describe('at design scale', () => {
  test('a 500-cell generation completes, validates and has 500 namespaces', (t) => {
    const started = performance.now();
    const map = clusterCellMap(500);
    const objects = generateK8sManifests(map, k8sOptions(SERVICES));
    const generated = performance.now();
    const problems = validateManifests(objects);
    const validated = performance.now();
    assert.deepEqual(problems.slice(0, 5), []);
    // As the CLI writes them: one YAML text per cell (not kept: 500 copies of the map are ~250 MB).
    let yamlBytes = 0;
    let documents = 0;
    for (let i = 0; i < objects.length; i += PER_CELL) {
      const text = toYamlDocuments(objects.slice(i, i + PER_CELL));
      yamlBytes += text.length;
      documents += text.split('\n---\n').length;
    }
    const written = performance.now();
    assert.equal(documents, objects.length);
    const namespaces = new Set(ofKind(objects, 'Namespace').map((n) => n.metadata?.name));
    assert.equal(namespaces.size, 500);
    assert.ok(namespaces.has('titan-cell-0') && namespaces.has('titan-cell-499'));
    assert.equal(objects.length, 500 * PER_CELL);
    assert.equal(new Set(objects.map((o) => o.metadata?.namespace ?? o.metadata?.name)).size, 500);
    t.diagnostic(
      `500 cells: ${objects.length} objects, generated in ${Math.round(generated - started)} ms, ` +
        `validated in ${Math.round(validated - generated)} ms, ${Math.round(yamlBytes / 2 ** 20)} MiB of YAML in ` +
        `${Math.round(written - validated)} ms`,
    );
    assert.ok(written - started < 20_000, `took ${Math.round(written - started)} ms`);
  });
});

describe('YAML', () => {
  test('plain where unambiguous, quoted where a YAML reader could mistake it, literal blocks for text', () => {
    const yaml = toYaml({
      apiVersion: 'v1',
      n: 3,
      on: 'yes',
      port: '8080',
      host: '0.0.0.0',
      empty: '',
      url: 'http://auth:8101',
      tricky: 'a: b #c',
      list: ['x', { k: 'v', w: [1, 2] }, [], {}],
      none: {},
      skipped: undefined,
      text: '{\n  "a": 1\n}\n',
    });
    assert.equal(
      yaml,
      [
        'apiVersion: v1',
        '"n": 3',
        '"on": "yes"',
        'port: "8080"',
        'host: "0.0.0.0"',
        'empty: ""',
        'url: http://auth:8101',
        'tricky: "a: b #c"',
        'list:',
        '  - x',
        '  - k: v',
        '    w:',
        '      - 1',
        '      - 2',
        '  - []',
        '  - {}',
        'none: {}',
        'text: |',
        '  {',
        '    "a": 1',
        '  }',
        '',
      ].join('\n'),
    );
    assert.equal(toYaml('line\n  indented'), '|-\n  line\n    indented\n');
    assert.equal(toYaml(' leading\nx'), '" leading\\nx"\n');
    assert.equal(toYaml('x\u2028y'), '"x\\u2028y"\n');
    assert.equal(toYamlDocuments([{ a: 1 }, { b: 2 }]), '---\na: 1\n---\nb: 2\n');
    assert.throws(() => toYaml({ n: Number.NaN }), /cannot write NaN/);
  });
});

describe('titan deploy k8s', () => {
  function titan(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'deploy/cli/titan.ts', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }
  const documents = (text: string) => text.split('\n').filter((l) => l === '---').length;
  const body = (text: string) => text.slice(text.indexOf('---\n'));

  test('writes one multi-document YAML file per cell, exactly the generated objects', async () => {
    const out = join(tmp, 'three');
    const stale = join(out, 'cell-7.yaml');
    const other = join(out, 'notes.txt');
    await titan(['deploy', 'k8s', '--cells', '8', '--out', out]);
    writeFileSync(other, 'kept');
    assert.ok(existsSync(stale));
    const r = await titan(['deploy', 'k8s', '--cells', '3', '--out', out, '--image', 'example/titan:9']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^wrote 3 cell files \(\d+ objects, .*Kubernetes 1\.36, all valid\) to .*three.*removed 5 stale/,
    );
    assert.deepEqual(readdirSync(out).sort(), ['cell-0.yaml', 'cell-1.yaml', 'cell-2.yaml', 'notes.txt']);
    const map = clusterCellMap(3);
    const options = k8sOptions(SERVICES, { image: 'example/titan:9' });
    for (const cell of map.cells) {
      const text = readFileSync(join(out, `cell-${cell.id}.yaml`), 'utf8');
      const objects = cellManifests(map, cell, serializeCellMap(map), options);
      assert.match(text, /^# Titan Commerce cell \d+: generated by `titan deploy k8s`/);
      assert.equal(body(text), toYamlDocuments(objects));
      assert.equal(documents(text), objects.length);
      assert.match(text, new RegExp(`kind: Namespace\nmetadata:\n  name: titan-cell-${cell.id}\n`));
      assert.match(text, /image: example\/titan:9/);
    }
  });

  test('--map uses a map file as written, placeholders kept', async () => {
    const out = join(tmp, 'local');
    const r = await titan(['deploy', 'k8s', '--map', LOCAL_CELL_MAP_PATH, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const local: CellMap = loadCellMap(LOCAL_CELL_MAP_PATH, { env: false });
    assert.deepEqual(readdirSync(out).sort(), local.cells.map((c) => `cell-${c.id}.yaml`).sort());
    assert.match(
      readFileSync(join(out, 'cell-0.yaml'), 'utf8'),
      /"url": "\$\{TITAN_REDIS_URL:-redis:\/\/127\.0\.0\.1:16379\}"/,
    );
  });

  test('usage mistakes and bad options exit 1 with a code, writing nothing', async () => {
    const out = join(tmp, 'never');
    const neither = await titan(['deploy', 'k8s', '--out', out]);
    assert.equal(neither.code, 1);
    assert.match(neither.stderr, /^CLI_USAGE: deploy k8s needs exactly one of --cells/);
    const both = await titan(['deploy', 'k8s', '--out', out, '--cells', '3', '--map', LOCAL_CELL_MAP_PATH]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /cannot be used with/);
    const bad = await titan(['deploy', 'k8s', '--out', out, '--cells', '3', '--kafka-brokers', 'kafka']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^K8S_OPTIONS_INVALID: kafka-brokers: "kafka" is not host:port/);
    assert.equal(existsSync(out), false);
  });
});
