// Live: PeerAuthentication at mesh, namespace and workload scope (and port level) and DestinationRule tls
// on a running mesh, as a caller notices them: a plain-text client refused by STRICT and served by
// PERMISSIVE, an mTLS client always served (but by DISABLE), sidecar callers following auto mTLS or the
// rule's tls mode, and TLS origination (SIMPLE, MUTUAL) toward a server outside the mesh.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { startTestMesh, type EchoAnswer, type TestMesh } from '../../support/mesh.js';
import { request, tlsGet, type HttpAnswer } from '../../support/net.js';
import { serviceEntryYaml } from '../../support/policy-yaml.js';
import { createMeshCa, issueWorkloadCertificate, type MeshCa, type WorkloadCertificate } from '../../../src/lib/mesh/ca.js';
import { readAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';
import { RuntimeApi, statNumber } from '../../../src/lib/runtime/haproxy/runtime-api.js';

const workload = (name: string, namespace: string) => `
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: ${namespace}, labels: { app: ${name}, version: v1 } }
spec: { command: [node, app.js], port: 9080, serviceAccount: ${name} }
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec: { selector: { app: ${name} }, ports: [{ name: http, port: 9080 }] }
---`;

/** client, alpha and gamma in default; beta in team. */
const PODS = workload('client', 'default') + workload('alpha', 'default') + workload('gamma', 'default') + workload('beta', 'team');

const pa = (name: string, namespace: string, spec: string) => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---`;

const dr = (host: string, namespace: string, trafficPolicy: string) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host.split('.')[0]}, namespace: ${namespace} }
spec: { host: ${host}, trafficPolicy: ${trafficPolicy} }
---`;

describe('mTLS modes on a live mesh (PeerAuthentication scopes, port level, DestinationRule tls)', { timeout: 180_000 }, () => {
  let mesh: TestMesh;
  let tester: WorkloadCertificate;

  before(async () => {
    mesh = await startTestMesh(PODS);
    tester = await issueWorkloadCertificate(mesh.ca, { namespace: 'default', serviceAccount: 'tester' });
  });
  after(async () => {
    await mesh?.stop();
  });

  /** A plain-text HTTP request straight to a pod's inbound listener: 'served' or 'refused'. */
  async function plain(pod: string): Promise<'served' | 'refused'> {
    try {
      const a = await request({ port: mesh.pod(pod).ports.inbound, path: '/plain', headers: { host: pod.replace(/-0$/, '') } });
      assert.equal(a.status, 200, `plain text to ${pod} answered ${a.status}: ${a.body}`);
      assert.equal((JSON.parse(a.body) as EchoAnswer).headers['x-forwarded-client-cert'], undefined, 'a plain-text caller has no verified identity');
      return 'served';
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      return 'refused';
    }
  }

  /** An mTLS request with a mesh certificate straight to a pod's inbound listener. */
  async function mutual(pod: string): Promise<'served' | 'refused'> {
    try {
      const answer = await tlsGet({ port: mesh.pod(pod).ports.inbound, pem: { cert: tester.certificatePem, key: tester.privateKeyPem }, ca: mesh.ca.certificatePem, host: pod.replace(/-0$/, ''), path: '/mtls' });
      if (!/^HTTP\/1\.1 200/.test(answer)) return 'refused';
      assert.match(answer, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/tester/, 'the app gets the verified caller');
      return 'served';
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      return 'refused';
    }
  }

  /** A call from client's app through its sidecar. */
  const fromClient = (host: string): Promise<HttpAnswer> => request({ port: mesh.pod('client-0').ports.outbound, path: '/call', headers: { host }, timeoutMs: 10_000 });

  it("without any PeerAuthentication, Istio's PERMISSIVE: plain text and mTLS are both served", async () => {
    assert.deepEqual(mesh.compiled.sidecars.map((s) => s.mtlsMode), ['PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE']);
    assert.equal(await plain('alpha-0'), 'served');
    assert.equal(await mutual('alpha-0'), 'served');
    const viaSidecar = await fromClient('alpha');
    assert.equal(viaSidecar.status, 200);
    assert.match(String((JSON.parse(viaSidecar.body) as EchoAnswer).headers['x-forwarded-client-cert']), /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client$/, 'auto mTLS toward a PERMISSIVE pod');
  });

  it('sidecars call a PERMISSIVE pod on its mTLS-only port, past the sniffing listener, which stays for callers outside the mesh', async () => {
    const alpha = mesh.pod('alpha-0');
    const stat = () => new RuntimeApi(alpha.paths.runtimeSocket).showStat();
    const sessions = async (frontend: string) => {
      const row = (await stat()).find((r) => r.proxy === frontend && r.type === 'frontend');
      assert.ok(row, `alpha's sidecar has a frontend ${frontend}`);
      return statNumber(row, 'stot');
    };
    const sniffedBefore = await sessions('inbound');
    const mtlsBefore = await sessions('inbound_mtls');
    for (let i = 0; i < 3; i++) assert.equal((await fromClient('alpha')).status, 200);
    assert.equal(await sessions('inbound'), sniffedBefore, 'no mesh call went through the sniffing listener');
    assert.ok(await sessions('inbound_mtls') > mtlsBefore, 'the calls reached the mTLS listener');
    // The mTLS-only port serves a mesh certificate and refuses plain text, whatever the mode.
    const answer = await tlsGet({ port: alpha.ports.mtls!, pem: { cert: tester.certificatePem, key: tester.privateKeyPem }, ca: mesh.ca.certificatePem, host: 'alpha', path: '/mtls' });
    assert.match(answer, /^HTTP\/1\.1 200/);
    await assert.rejects(request({ port: alpha.ports.mtls!, path: '/plain', headers: { host: 'alpha' } }));
  });

  it('mesh-wide STRICT, a namespace PERMISSIVE, a workload DISABLE, a workload UNSET inheriting', async () => {
    await mesh.apply(PODS
      + pa('default', 'istio-system', '{ mtls: { mode: STRICT } }')
      + pa('default', 'team', '{ mtls: { mode: PERMISSIVE } }')
      + pa('gamma-off', 'default', '{ selector: { matchLabels: { app: gamma } }, mtls: { mode: DISABLE } }')
      + pa('alpha-unset', 'default', '{ selector: { matchLabels: { app: alpha } }, mtls: { mode: UNSET } }'));
    // Mesh scope (through alpha's UNSET workload policy): plain text refused, mTLS served.
    assert.equal(await plain('alpha-0'), 'refused');
    assert.equal(await mutual('alpha-0'), 'served');
    // Namespace scope overrides the mesh.
    assert.equal(await plain('beta-0'), 'served');
    assert.equal(await mutual('beta-0'), 'served');
    // Workload scope: DISABLE takes plain text only.
    assert.equal(await plain('gamma-0'), 'served');
    assert.equal(await mutual('gamma-0'), 'refused');
    // Sidecar callers follow each pod's mode (auto mTLS): mTLS to alpha and beta, plain text to gamma.
    for (const host of ['alpha', 'beta.team', 'gamma']) assert.equal((await fromClient(host)).status, 200, host);
    assert.equal((JSON.parse((await fromClient('gamma')).body) as EchoAnswer).headers['x-forwarded-client-cert'], undefined);
  });

  it('a namespace STRICT over a PERMISSIVE mesh, a workload PERMISSIVE over it, and portLevelMtls for the app port only', async () => {
    await mesh.apply(PODS
      + pa('default', 'istio-system', '{ mtls: { mode: PERMISSIVE } }')
      + pa('default', 'default', '{ mtls: { mode: STRICT } }')
      + pa('alpha-open', 'default', '{ selector: { matchLabels: { app: alpha } }, mtls: { mode: PERMISSIVE } }')
      + pa('gamma-port', 'default', '{ selector: { matchLabels: { app: gamma } }, portLevelMtls: { "9080": { mode: PERMISSIVE } } }')
      + pa('client-port', 'default', '{ selector: { matchLabels: { app: client } }, mtls: { mode: STRICT }, portLevelMtls: { "8443": { mode: DISABLE } } }'));
    // The namespace's STRICT holds where nothing more specific decides (client: its port-level setting names another port).
    assert.equal(await plain('client-0'), 'refused');
    assert.equal(await mutual('client-0'), 'served');
    // A workload policy overrides the namespace.
    assert.equal(await plain('alpha-0'), 'served');
    assert.equal(await mutual('alpha-0'), 'served');
    // gamma's port-level PERMISSIVE for its app port overrides the namespace's STRICT.
    assert.equal(await plain('gamma-0'), 'served');
    assert.equal(await mutual('gamma-0'), 'served');
    // beta's namespace has no policy: the mesh's PERMISSIVE.
    assert.equal(await plain('beta-0'), 'served');
  });

  it('DestinationRule tls DISABLE: a STRICT pod refuses the plain text, a PERMISSIVE pod serves it; ISTIO_MUTUAL to a DISABLE pod fails', async () => {
    await mesh.apply(PODS
      + pa('default', 'istio-system', '{ mtls: { mode: STRICT } }')
      + pa('default', 'team', '{ mtls: { mode: PERMISSIVE } }')
      + pa('gamma-off', 'default', '{ selector: { matchLabels: { app: gamma } }, mtls: { mode: DISABLE } }')
      + dr('alpha', 'default', '{ tls: { mode: DISABLE } }')
      + dr('beta.team.svc.cluster.local', 'default', '{ tls: { mode: DISABLE } }')
      + dr('gamma', 'default', '{ tls: { mode: ISTIO_MUTUAL } }'));
    const before = mesh.app('alpha-0').received.length;
    const refused = await request({ port: mesh.pod('client-0').ports.outbound, path: '/call', headers: { host: 'alpha', 'x-request-id': 'plain-to-strict' }, timeoutMs: 10_000 });
    // As Envoy: the server closes the connection, the caller answers 503 with the reset's reason.
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection termination/);
    const logged = await waitFor('the caller\'s log line of the refused request', async () => (await readAccessLog(mesh.pod('client-0').paths.accessLog)).entries.find((e) => e.requestId === 'plain-to-strict'), { timeoutMs: 5000 });
    assert.deepEqual(logged.responseFlags, ['UC'], 'the caller logs an upstream connection termination');
    assert.equal(mesh.app('alpha-0').received.length, before, 'the STRICT pod let no plain-text request through');
    const served = await fromClient('beta.team');
    assert.equal(served.status, 200, served.body);
    assert.equal((JSON.parse(served.body) as EchoAnswer).headers['x-forwarded-client-cert'], undefined, 'the PERMISSIVE pod got plain text');
    const mutualToDisabled = await fromClient('gamma');
    assert.ok(mutualToDisabled.status >= 400, `mTLS to a DISABLE pod answered ${mutualToDisabled.status}`);
  });

  it('DestinationRule tls per subset and port: the most specific setting decides', async () => {
    await mesh.apply(PODS
      + pa('default', 'istio-system', '{ mtls: { mode: STRICT } }')
      + `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: alpha, namespace: default }
spec:
  host: alpha
  trafficPolicy: { tls: { mode: DISABLE } }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: ISTIO_MUTUAL } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: alpha, namespace: default }
spec:
  hosts: [alpha]
  http:
  - match: [{ headers: { x-subset: { exact: v1 } } }]
    route: [{ destination: { host: alpha, subset: v1, port: { number: 9080 } } }]
  - route: [{ destination: { host: alpha } }]
---`);
    const subset = await fromClient('alpha').then(() => request({ port: mesh.pod('client-0').ports.outbound, path: '/', headers: { host: 'alpha', 'x-subset': 'v1' } }));
    assert.equal(subset.status, 200, 'the subset\'s port-level ISTIO_MUTUAL reaches the STRICT pod');
    const host = await fromClient('alpha');
    assert.ok(host.status >= 500, `the rule's DISABLE to a STRICT pod answered ${host.status}`);
  });

  describe('TLS origination toward a server outside the mesh (ServiceEntry endpoint)', () => {
    let dir: string;
    let serverCa: MeshCa;
    let clientCa: MeshCa;
    let server: https.Server;
    let port: number;
    let caFile: string;
    let clientPem: string;

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-tls-origination-'));
      serverCa = await createMeshCa();
      clientCa = await createMeshCa();
      const cert = await issueWorkloadCertificate(serverCa, { namespace: 'external', serviceAccount: 'secure' }, { dnsNames: ['secure.example'] });
      server = https.createServer({ cert: cert.certificatePem, key: cert.privateKeyPem, ca: clientCa.certificatePem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
        const socket = req.socket as tls.TLSSocket;
        const peer = socket.getPeerCertificate();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ servername: (socket as unknown as { servername?: string }).servername ?? null, clientAuthorized: socket.authorized, clientSubjectAltName: peer?.subjectaltname ?? null }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as net.AddressInfo).port;
      caFile = path.join(dir, 'server-ca.pem');
      await fs.writeFile(caFile, serverCa.certificatePem);
      const client = await issueWorkloadCertificate(clientCa, { namespace: 'default', serviceAccount: 'client' });
      clientPem = path.join(dir, 'client.pem');
      await fs.writeFile(clientPem, client.certificatePem);
      await fs.writeFile(`${clientPem}.key`, client.privateKeyPem);
    });
    after(async () => {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    });

    const entry = () => serviceEntryYaml('secure', 'secure.example', port, 'HTTPS');

    it('SIMPLE verifies the server against caCertificates and sends the SNI; MUTUAL also presents the client certificate', async () => {
      await mesh.apply(PODS + entry() + dr('secure.example', 'default', `{ tls: { mode: SIMPLE, caCertificates: ${caFile} } }`));
      const simple = await fromClient('secure.example');
      assert.equal(simple.status, 200, simple.body);
      assert.deepEqual(JSON.parse(simple.body), { servername: 'secure.example', clientAuthorized: false, clientSubjectAltName: null });

      await mesh.apply(PODS + entry() + dr('secure.example', 'default', `{ tls: { mode: MUTUAL, caCertificates: ${caFile}, clientCertificate: ${clientPem}, privateKey: ${clientPem}.key, sni: secure.example } }`));
      const mutualAnswer = await fromClient('secure.example');
      assert.equal(mutualAnswer.status, 200, mutualAnswer.body);
      const seen = JSON.parse(mutualAnswer.body) as { clientAuthorized: boolean; clientSubjectAltName: string };
      assert.equal(seen.clientAuthorized, true);
      assert.match(seen.clientSubjectAltName, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
    });

    it('SIMPLE refuses a server its caCertificates do not vouch for, and plain text (no rule) gets no answer from a TLS server', async () => {
      const otherCa = path.join(dir, 'other-ca.pem');
      await fs.writeFile(otherCa, clientCa.certificatePem);
      await mesh.apply(PODS + entry() + dr('secure.example', 'default', `{ tls: { mode: SIMPLE, caCertificates: ${otherCa} } }`));
      assert.ok((await fromClient('secure.example')).status >= 500);
      await mesh.apply(PODS + entry());
      assert.ok((await fromClient('secure.example')).status >= 400);
    });

    it('a caCertificates file that does not exist takes the destination out of service (503) with a note, and the other proxies apply', async () => {
      const missing = path.join(dir, 'missing-ca.pem');
      const results = await mesh.apply(PODS + entry() + dr('secure.example', 'default', `{ tls: { mode: SIMPLE, caCertificates: ${missing} } }`));
      assert.equal(results.get('client-0')?.revision, mesh.compiled.revision, 'the proxy took the configuration');
      assert.ok(mesh.compiled.notes.some((n) => n.includes(`tls.caCertificates "${missing}" is not an absolute path to an existing file`)), mesh.compiled.notes.join('\n'));
      assert.equal((await fromClient('secure.example')).status, 503);
      assert.equal((await fromClient('alpha')).status, 200);
    });
  });
});
