// Every analyzer meshctl runs; adding a check is adding a file and a line here.
import type { Analyzer } from '../analysis.js';
import { schemaAnalyzers } from './schema.js';
import { authorizationPolicies } from './auth-authorization-policies.js';
import { deploymentMultiService } from './deployment-multi-service.js';
import { deprecation } from './deprecation.js';
import { destinationRuleCaCertificate } from './destinationrule-ca-certificate.js';
import { subsetSelectPod } from './subset-select-pod.js';
import { gatewayCertificate } from './gateway-certificate.js';
import { conflictingGateway } from './gateway-conflicting.js';
import { ingressGatewayPort } from './gateway-ingress-port.js';
import { gatewaySecret } from './gateway-secret.js';
import { kubernetesGatewaySelector } from './k8sgateway-selector.js';
import { servicePortName } from './service-port-name.js';
import { serviceEntryAddresses } from './serviceentry-addresses.js';
import { serviceEntryConflictingProtocol } from './serviceentry-conflicting-protocol.js';
import { sidecarSelector } from './sidecar-selector.js';
import { conflictingMeshGatewayHosts } from './virtualservice-conflicting-mesh-gateway-hosts.js';
import { destinationHosts } from './virtualservice-destination-hosts.js';
import { destinationRules } from './virtualservice-destination-rules.js';
import { virtualServiceGateways } from './virtualservice-gateways.js';
import { jwtClaimRoute } from './virtualservice-jwt-claim-route.js';
import { routeWeights } from './route-weights.js';
import { shadowedRoutes } from './shadowed-routes.js';
import { duplicateSubsets } from './duplicate-subsets.js';
import { retryBudget } from './retry-budget.js';
import { durations } from './durations.js';
import { mtlsConflict } from './mtls-conflict.js';
import { allowWithoutRules } from './allow-without-rules.js';
import { unmatchedAbort } from './unmatched-abort.js';
import { mirrorToSelf } from './mirror-to-self.js';
import { httpRouteBackends } from './httproute-backends.js';
import { duplicateResources } from './duplicate-resources.js';
import { notEnforcedLocally } from './not-enforced-locally.js';

export const ANALYZERS: Analyzer[] = [
  ...schemaAnalyzers,
  authorizationPolicies,
  deploymentMultiService,
  deprecation,
  destinationRuleCaCertificate,
  subsetSelectPod,
  gatewayCertificate,
  conflictingGateway,
  ingressGatewayPort,
  gatewaySecret,
  kubernetesGatewaySelector,
  servicePortName,
  serviceEntryAddresses,
  serviceEntryConflictingProtocol,
  sidecarSelector,
  conflictingMeshGatewayHosts,
  destinationHosts,
  destinationRules,
  virtualServiceGateways,
  jwtClaimRoute,
  routeWeights,
  shadowedRoutes,
  duplicateSubsets,
  retryBudget,
  durations,
  mtlsConflict,
  allowWithoutRules,
  unmatchedAbort,
  mirrorToSelf,
  httpRouteBackends,
  duplicateResources,
  notEnforcedLocally,
];
