// serviceentry.Analyzer: a ServiceEntry port serving TCP (or no protocol) needs a virtual IP, unless the mesh
// allocates one (DNS capture with auto-allocation) or the status already carries an allocated address (IST0134).
import type { Analyzer } from '../analysis.js';
import type { MeshConfig } from '../mesh-config.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { asArray, asObject } from './util.js';

/** True when proxies capture DNS and the mesh allocates ServiceEntry addresses itself. */
export function addressesAutoAllocated(mesh: MeshConfig): boolean {
  const meta = asObject(asObject(mesh.defaultConfig).proxyMetadata);
  if (meta.ISTIO_META_DNS_CAPTURE !== 'true') return false;
  return meta.ISTIO_META_DNS_AUTO_ALLOCATE === 'true' || meta.PILOT_ENABLE_IP_AUTOALLOCATE === 'true';
}

export const serviceEntryAddresses: Analyzer = {
  name: 'serviceentry.Analyzer',
  description: 'Checks that ServiceEntries with TCP (or protocol-less) ports have addresses, unless the mesh allocates them',
  inputs: [K.ServiceEntry],
  codes: ['IST0134'],
  run(ctx) {
    if (addressesAutoAllocated(ctx.meshConfig)) return;
    for (const se of ctx.of(K.ServiceEntry)) {
      const spec = specOf(se, K.ServiceEntry);
      if (listOf(spec.addresses).length > 0) continue;
      if (asArray(asObject(se.object.status).addresses).length > 0) continue;
      listOf(spec.ports).forEach((p, i) => {
        const port = objectOf(p);
        const protocol = port.protocol === undefined || port.protocol === null ? '' : String(port.protocol);
        if (protocol !== '' && protocol.toUpperCase() !== 'TCP') return;
        const which = port.number === undefined ? `port ${i + 1}` : `port ${String(port.number)}`;
        const served = protocol === '' ? 'sets no protocol' : 'serves TCP';
        ctx.report(
          'IST0134',
          se,
          `/spec/ports/${i}/protocol`,
          `ServiceEntry ${se.name} ${which} ${served} but the entry has no addresses, so proxies can't tell its hosts apart on that port; add spec.addresses or declare the port's real protocol.`,
        );
      });
    }
  },
};
