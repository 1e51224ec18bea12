// PeerAuthentication composed as istiod composes it, and DestinationRule tls merged as istiod merges it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSources } from '../../../src/lib/policy/load.js';
import { buildMeshModel, mtlsModeOf } from '../../../src/lib/policy/mesh-model.js';
import { destinationClientTls } from '../../../src/lib/policy/peer-authentication.js';

function model(text: string) {
  const { resources } = loadSources([{ path: 'p.yaml', text, format: 'yaml', size: text.length }], { defaultNamespace: 'default' });
  return buildMeshModel(resources);
}
const pa = (name: string, ns: string, spec: string) => `---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: ${spec}\n`;
const WORKLOAD = '---\napiVersion: meshctl.dev/v1alpha1\nkind: Workload\nmetadata: { name: reviews, namespace: default, labels: { app: reviews } }\nspec: { command: [node], port: 9080 }\n';
const pod = { namespace: 'default', labels: { app: 'reviews' }, workload: 'reviews' };

describe('PeerAuthentication composition', () => {
  it('an UNSET policy inherits; the first policy of a scope counts even when it is UNSET', () => {
    assert.equal(mtlsModeOf(model(WORKLOAD + pa('default', 'istio-system', '{ mtls: { mode: STRICT } }') + pa('a', 'default', '{}')), pod), 'STRICT');
    // Of two namespace-wide policies the first (Istio: the oldest) decides, and it inherits.
    assert.equal(mtlsModeOf(model(WORKLOAD + pa('default', 'istio-system', '{ mtls: { mode: STRICT } }') + pa('a', 'default', '{ mtls: { mode: UNSET } }') + pa('b', 'default', '{ mtls: { mode: DISABLE } }')), pod), 'STRICT');
  });

  it("portLevelMtls decides for the workload's own port; UNSET there inherits the workload's mode; another port changes nothing", () => {
    const base = WORKLOAD + pa('default', 'istio-system', '{ mtls: { mode: STRICT } }');
    assert.equal(mtlsModeOf(model(base + pa('w', 'default', '{ selector: { matchLabels: { app: reviews } }, portLevelMtls: { "9080": { mode: DISABLE } } }')), pod), 'DISABLE');
    assert.equal(mtlsModeOf(model(base + pa('w', 'default', '{ selector: { matchLabels: { app: reviews } }, mtls: { mode: PERMISSIVE }, portLevelMtls: { "9080": { mode: UNSET } } }')), pod), 'PERMISSIVE');
    assert.equal(mtlsModeOf(model(base + pa('w', 'default', '{ selector: { matchLabels: { app: reviews } }, portLevelMtls: { "8080": { mode: DISABLE } } }')), pod), 'STRICT');
  });

  it('a policy with a selector in the root namespace is no mesh-wide policy', () => {
    assert.equal(mtlsModeOf(model(WORKLOAD + pa('x', 'istio-system', '{ selector: { matchLabels: { app: reviews } }, mtls: { mode: STRICT } }')), pod), 'PERMISSIVE');
  });
});

describe('DestinationRule tls merging', () => {
  const spec = {
    host: 'reviews',
    trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' }, portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'RANDOM' } }] },
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { tls: { mode: 'DISABLE' }, portLevelSettings: [{ port: { number: 9443 }, tls: { mode: 'SIMPLE', sni: 'x.example', insecureSkipVerify: true } }] } },
    ],
  };
  it('the rule, its port level (which does not inherit), the subset, the subset port level', () => {
    assert.equal(destinationClientTls(spec, '', 9080)?.mode, 'ISTIO_MUTUAL');
    assert.equal(destinationClientTls(spec, '', 8080), null, 'a port-level setting without tls leaves auto mTLS');
    assert.equal(destinationClientTls(spec, 'v1', 9080)?.mode, 'ISTIO_MUTUAL');
    assert.equal(destinationClientTls(spec, 'v2', 9080)?.mode, 'DISABLE');
    assert.deepEqual(destinationClientTls(spec, 'v2', 9443), { mode: 'SIMPLE', caCertificates: null, clientCertificate: null, privateKey: null, credentialName: null, sni: 'x.example', subjectAltNames: [], insecureSkipVerify: true });
    assert.equal(destinationClientTls({ host: 'reviews' }, '', 9080), null);
  });
});
