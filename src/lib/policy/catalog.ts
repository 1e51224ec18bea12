// The finding catalog: every code meshctl can emit, with its name and severity. Istio's codes keep
// Istio's names and levels so findings line up with istioctl's; MSH codes are meshctl's own checks.
export type Severity = 'error' | 'warning' | 'info';

export interface CatalogEntry {
  code: string;
  name: string;
  severity: Severity;
}

const e = (code: string, name: string, severity: Severity): CatalogEntry => ({ code, name, severity });

export const CATALOG: CatalogEntry[] = [
  e('IST0001', 'InternalError', 'error'),
  e('IST0002', 'Deprecated', 'warning'),
  e('IST0101', 'ReferencedResourceNotFound', 'error'),
  e('IST0102', 'NamespaceNotInjected', 'info'),
  e('IST0103', 'PodMissingProxy', 'warning'),
  e('IST0106', 'SchemaValidationError', 'error'),
  e('IST0107', 'MisplacedAnnotation', 'warning'),
  e('IST0108', 'UnknownAnnotation', 'warning'),
  e('IST0109', 'ConflictingMeshGatewayVirtualServiceHosts', 'error'),
  e('IST0110', 'ConflictingSidecarWorkloadSelectors', 'error'),
  e('IST0111', 'MultipleSidecarsWithoutWorkloadSelectors', 'error'),
  e('IST0112', 'VirtualServiceDestinationPortSelectorRequired', 'error'),
  e('IST0116', 'DeploymentAssociatedToMultipleServices', 'warning'),
  e('IST0118', 'PortNameIsNotUnderNamingConvention', 'info'),
  e('IST0123', 'NamespaceMultipleInjectionLabels', 'warning'),
  e('IST0125', 'InvalidAnnotation', 'warning'),
  e('IST0126', 'UnknownMeshNetworksServiceRegistry', 'error'),
  e('IST0127', 'NoMatchingWorkloadsFound', 'warning'),
  e('IST0128', 'NoServerCertificateVerificationDestinationLevel', 'warning'),
  e('IST0129', 'NoServerCertificateVerificationPortLevel', 'warning'),
  e('IST0130', 'VirtualServiceUnreachableRule', 'warning'),
  e('IST0131', 'VirtualServiceIneffectiveMatch', 'info'),
  e('IST0132', 'VirtualServiceHostNotFoundInGateway', 'warning'),
  e('IST0133', 'SchemaWarning', 'warning'),
  e('IST0134', 'ServiceEntryAddressesRequired', 'warning'),
  e('IST0135', 'DeprecatedAnnotation', 'info'),
  e('IST0136', 'AlphaAnnotation', 'info'),
  e('IST0137', 'DeploymentConflictingPorts', 'warning'),
  e('IST0138', 'GatewayDuplicateCertificate', 'warning'),
  e('IST0139', 'InvalidWebhook', 'error'),
  e('IST0140', 'IngressRouteRulesNotAffected', 'warning'),
  e('IST0141', 'InsufficientPermissions', 'error'),
  e('IST0142', 'UnsupportedKubernetesVersion', 'error'),
  e('IST0143', 'LocalhostListener', 'error'),
  e('IST0144', 'InvalidApplicationUID', 'warning'),
  e('IST0145', 'ConflictingGateways', 'error'),
  e('IST0146', 'ImageAutoWithoutInjectionWarning', 'warning'),
  e('IST0147', 'ImageAutoWithoutInjectionError', 'error'),
  e('IST0148', 'NamespaceInjectionEnabledByDefault', 'info'),
  e('IST0149', 'JwtClaimBasedRoutingWithoutRequestAuthN', 'error'),
  e('IST0150', 'ExternalNameServiceTypeInvalidPortName', 'warning'),
  e('IST0151', 'EnvoyFilterUsesRelativeOperation', 'warning'),
  e('IST0152', 'EnvoyFilterUsesReplaceOperationIncorrectly', 'error'),
  e('IST0153', 'EnvoyFilterUsesAddOperationIncorrectly', 'error'),
  e('IST0154', 'EnvoyFilterUsesRemoveOperationIncorrectly', 'error'),
  e('IST0155', 'EnvoyFilterUsesRelativeOperationWithProxyVersion', 'warning'),
  e('IST0156', 'UnsupportedGatewayAPIVersion', 'error'),
  e('IST0172', 'FutureUnsupportedGatewayAPIVersion', 'warning'),
  e('IST0157', 'InvalidTelemetryProvider', 'warning'),
  e('IST0158', 'PodsIstioProxyImageMismatchInNamespace', 'warning'),
  e('IST0159', 'ConflictingTelemetryWorkloadSelectors', 'error'),
  e('IST0160', 'MultipleTelemetriesWithoutWorkloadSelectors', 'error'),
  e('IST0161', 'InvalidGatewayCredential', 'error'),
  e('IST0162', 'GatewayPortNotDefinedOnService', 'warning'),
  e('IST0163', 'InvalidExternalControlPlaneConfig', 'warning'),
  e('IST0164', 'ExternalControlPlaneAddressIsNotAHostname', 'info'),
  e('IST0165', 'ReferencedInternalGateway', 'warning'),
  e('IST0166', 'IneffectiveSelector', 'warning'),
  e('IST0167', 'IneffectivePolicy', 'warning'),
  e('IST0168', 'UnknownUpgradeCompatibility', 'warning'),
  e('IST0169', 'UpdateIncompatibility', 'warning'),
  e('IST0170', 'MultiClusterInconsistentService', 'warning'),
  e('IST0171', 'NegativeConditionStatus', 'warning'),
  e('IST0173', 'DestinationRuleSubsetNotSelectPods', 'error'),
  e('IST0174', 'UnknownDestinationRuleHost', 'warning'),
  e('IST0175', 'JwksUriFetchUnrestricted', 'warning'),
  e('IST0176', 'GatewayAPICRDVersionBelowMinimum', 'warning'),
  e('IST0177', 'ConflictingServiceEntryProtocol', 'warning'),
  // Input: files and documents that can't be read as resources.
  e('MSH1002', 'BinaryFile', 'error'),
  e('MSH1003', 'InvalidUtf8', 'error'),
  e('MSH1004', 'FileTooLarge', 'error'),
  e('MSH1005', 'EmptyFile', 'info'),
  e('MSH1006', 'SyntaxError', 'error'),
  e('MSH1007', 'DuplicateKey', 'error'),
  e('MSH1008', 'NestingTooDeep', 'error'),
  e('MSH1009', 'AliasExpansion', 'error'),
  e('MSH1010', 'NotAResource', 'error'),
  e('MSH1011', 'MissingIdentity', 'error'),
  e('MSH1012', 'DuplicateResource', 'error'),
  e('MSH1020', 'UnknownKind', 'info'),
  e('MSH1021', 'UnknownApiVersion', 'error'),
  // meshctl's own policy checks.
  e('MSH2001', 'RouteWeightsNotHundred', 'warning'),
  e('MSH2002', 'RouteWeightsAllZero', 'error'),
  e('MSH2003', 'ShadowedRoute', 'warning'),
  e('MSH2004', 'DuplicateSubset', 'error'),
  e('MSH2005', 'RetriesExceedTimeout', 'warning'),
  e('MSH2006', 'MalformedDuration', 'error'),
  e('MSH2007', 'MtlsModeConflict', 'error'),
  e('MSH2008', 'AllowPolicyWithoutRules', 'warning'),
  e('MSH2009', 'UnmatchedTotalAbort', 'warning'),
  e('MSH2010', 'MirrorToOwnDestination', 'warning'),
  e('MSH2011', 'BackendRefNotFound', 'error'),
  e('MSH2012', 'BackendWeightsAllZero', 'error'),
  e('MSH2013', 'HostNotExported', 'error'),
  e('MSH2014', 'WorkloadInvalid', 'error'),
  e('MSH2015', 'NotEnforcedLocally', 'warning'),
];

const BY_CODE = new Map(CATALOG.map((c) => [c.code, c]));

export function catalogEntry(code: string): CatalogEntry {
  const entry = BY_CODE.get(code);
  if (!entry) throw new Error(`finding code ${code} is not in the catalog`);
  return entry;
}

/** 'ReferencedResourceNotFound' → 'Referenced resource not found'. */
export function describeName(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').split(' ');
  return words.map((w, i) => (i === 0 || /^[A-Z0-9]+$/.test(w) && w.length > 1 ? w : w.toLowerCase())).join(' ');
}
