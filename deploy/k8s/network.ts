/**
 * NetworkPolicies that keep cells apart: in each cell namespace nothing gets in except from the same
 * namespace, and the edge's port from outside (anyone, or only an ingress controller's namespace).
 * Egress is open unless CIDRs of the shared infrastructure are given; then only the namespace,
 * cluster DNS and those CIDRs are reachable.
 */
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { K8sOptions } from './options.ts';

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export function networkPolicies(
  namespace: string,
  labels: Record<string, string>,
  edge: { selector: Record<string, string>; port: number },
  options: K8sOptions,
): INetworkPolicy[] {
  const meta = (name: string) => ({ name, namespace, labels });
  const policies: INetworkPolicy[] = [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('default-deny-ingress'),
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-same-namespace'),
      // A podSelector without a namespaceSelector means pods of this namespace only.
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-edge-ingress'),
      spec: {
        podSelector: { matchLabels: edge.selector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            ports: [{ protocol: 'TCP', port: edge.port }],
            // No `from`: any source. With an ingress namespace: only its pods.
            ...(options.ingressNamespace === undefined
              ? {}
              : {
                  from: [
                    {
                      namespaceSelector: {
                        matchLabels: { [NAMESPACE_NAME_LABEL]: options.ingressNamespace },
                      },
                    },
                  ],
                }),
          },
        ],
      },
    },
  ];
  if (options.egressCidrs.length > 0) {
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('restrict-egress'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          { to: [{ podSelector: {} }] },
          {
            to: [
              {
                namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: 'kube-system' } },
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
          { to: options.egressCidrs.map((cidr) => ({ ipBlock: { cidr } })) },
        ],
      },
    });
  }
  return policies;
}
