/** Errors of the Kubernetes manifest generator. */
import { defineErrors } from '../../services/kit/index.ts';

export const K8sErrors = defineErrors({
  /** details: { problems: string[] }, one per bad option, named by its flag. */
  K8S_OPTIONS_INVALID: { status: 400, message: 'The Kubernetes generation options are invalid' },
  /** details: { problems: ManifestProblem[] }, each naming the object's kind, namespace and name. */
  K8S_MANIFESTS_INVALID: { status: 422, message: 'Generated Kubernetes objects are invalid' },
});
