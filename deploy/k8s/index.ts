/** Kubernetes manifests for the cells: generation (pure), YAML writing and offline validation. */
export { clusterCellMap } from './cell-map.ts';
export { K8sErrors } from './errors.ts';
export type { K8sObject } from './generate.ts';
export { CELL_LABEL, cellManifests, generateK8sManifests, namespaceOf } from './generate.ts';
export type { EdgeScaling, K8sOptions } from './options.ts';
export { K8S_VERSION, k8sOptions } from './options.ts';
export type { CellProcess } from './processes.ts';
export { cellProcesses, edgeResources } from './processes.ts';
export type { ManifestProblem } from './validate.ts';
export { formatProblem, validateManifests } from './validate.ts';
export { toYaml, toYamlDocuments } from './yaml.ts';
