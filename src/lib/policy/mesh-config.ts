// Istio's MeshConfig, as far as the analyzers read it; `--mesh-config FILE` overrides the defaults.
export interface MeshConfig {
  rootNamespace: string;
  ingressControllerMode: 'DEFAULT' | 'STRICT' | 'OFF' | string;
  ingressService: string;
  ingressSelector: string;
  defaultConfig: {
    proxyMetadata: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export function defaultMeshConfig(): MeshConfig {
  return {
    rootNamespace: 'istio-system',
    ingressControllerMode: 'STRICT',
    ingressService: 'istio-ingressgateway',
    ingressSelector: 'ingressgateway',
    defaultConfig: { proxyMetadata: {} },
  };
}

/** Overlays a user's mesh config (already parsed) on the defaults, one level deep for defaultConfig. */
export function applyMeshConfig(user: Record<string, unknown> | null | undefined): MeshConfig {
  const base = defaultMeshConfig();
  if (!user || typeof user !== 'object') return base;
  const userDefault = (user.defaultConfig ?? {}) as Record<string, unknown>;
  return {
    ...base,
    ...user,
    defaultConfig: {
      ...base.defaultConfig,
      ...userDefault,
      proxyMetadata: { ...base.defaultConfig.proxyMetadata, ...((userDefault.proxyMetadata as Record<string, string>) ?? {}) },
    },
  } as MeshConfig;
}
