// istiod's sync status (/debug/syncz on its monitoring port 15014, reached through the API server's pod
// proxy): per connected proxy, the nonce istiod last sent of each xDS type and the one the proxy last
// acknowledged. A proxy is SYNCED when it acknowledged every type istiod sent it, STALE otherwise.
export interface ProxySync {
  /** `pod.namespace`, as istiod names a proxy. */
  proxy: string;
  synced: boolean;
  /** The xDS types sent but not acknowledged (cluster, listener, route, endpoint). */
  pending: string[];
  istioVersion: string | null;
}

const TYPES = ['cluster', 'listener', 'route', 'endpoint'] as const;

/** The sync status of each proxy istiod knows, by `pod.namespace`. */
export function parseSyncz(body: unknown): Map<string, ProxySync> {
  if (!Array.isArray(body)) throw new Error('istiod /debug/syncz did not answer a JSON list');
  const out = new Map<string, ProxySync>();
  for (const entry of body as Record<string, unknown>[]) {
    const proxy = typeof entry.proxy === 'string' ? entry.proxy : null;
    if (!proxy) continue;
    const pending = TYPES.filter((t) => {
      const sent = entry[`${t}_sent`];
      return typeof sent === 'string' && sent !== '' && sent !== entry[`${t}_acked`];
    });
    out.set(proxy, { proxy, synced: pending.length === 0, pending: [...pending], istioVersion: typeof entry.istio_version === 'string' ? entry.istio_version : null });
  }
  return out;
}
