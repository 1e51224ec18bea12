// Live: AuthorizationPolicy on a small mesh on loopback (echo apps, real HAProxy sidecars, mTLS with
// certificates from a fresh mesh CA). Every form of a rule is tried with one request it lets through
// and one it does not; then Istio's order (DENY before ALLOW, an ALLOW policy without rules, policies
// of the root namespace for every workload). Policies are applied to the running mesh in rounds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestMesh, type TestMesh } from '../../support/mesh.js';
import { request, type HttpAnswer } from '../../support/net.js';
import { serviceYaml, workloadYaml } from '../../support/policy-yaml.js';
import { readAccessLog } from '../../../src/lib/runtime/haproxy/access-log.js';
import { waitFor } from '../../../src/lib/runtime/haproxy/admin.js';

const BASE = `${workloadYaml({ name: 'caller', labels: 'app: caller', serviceAccount: 'caller' })}
${workloadYaml({ name: 'alpha', labels: 'app: alpha', serviceAccount: 'alpha' })}
${workloadYaml({ name: 'beta', labels: 'app: beta', serviceAccount: 'beta' })}
${serviceYaml('alpha')}
${serviceYaml('beta')}
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: visitor, namespace: other, labels: { app: visitor } }
spec: { command: ["node", "app.js"], port: 9080, serviceAccount: visitor }
---
apiVersion: meshctl.dev/v1alpha1
kind: Workload
metadata: { name: gamma, namespace: other, labels: { app: gamma } }
spec: { command: ["node", "app.js"], port: 9080, serviceAccount: gamma }
---
apiVersion: v1
kind: Service
metadata: { name: gamma, namespace: other }
spec: { selector: { app: gamma }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: alpha-permissive, namespace: default }
spec: { selector: { matchLabels: { app: alpha } }, mtls: { mode: PERMISSIVE } }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: [alpha.example] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: alpha-ingress, namespace: default }
spec:
  hosts: [alpha.example]
  gateways: [ingress]
  http: [{ route: [{ destination: { host: alpha } }] }]
---
`;

const policy = (namespace: string, name: string, spec: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec.replace(/^\n/, '').split('\n').map((l) => `  ${l}`).join('\n')}
---`;

/** Round 1: every source, operation and condition form, as ALLOW rules on alpha and DENY rules on beta. */
const FORMS = BASE + policy('default', 'alpha-allow', `
selector: { matchLabels: { app: alpha } }
action: ALLOW
rules:
- { from: [{ source: { principals: [cluster.local/ns/default/sa/caller] } }], to: [{ operation: { paths: [/principal] } }] }
- { from: [{ source: { notPrincipals: [cluster.local/ns/default/sa/caller] } }], to: [{ operation: { paths: [/not-principal] } }] }
- { from: [{ source: { principals: ["*/sa/visitor"] } }], to: [{ operation: { paths: [/principal-suffix] } }] }
- { from: [{ source: { principals: ["cluster.local/ns/other/*"] } }], to: [{ operation: { paths: [/principal-prefix] } }] }
- { from: [{ source: { principals: ["*"] } }], to: [{ operation: { paths: [/authenticated] } }] }
- { from: [{ source: { namespaces: [other] } }], to: [{ operation: { paths: [/namespace] } }] }
- { from: [{ source: { notNamespaces: [other] } }], to: [{ operation: { paths: [/not-namespace] } }] }
- { from: [{ source: { ipBlocks: [127.0.0.1/32] } }], to: [{ operation: { paths: [/ip] } }] }
- { from: [{ source: { ipBlocks: [10.0.0.0/8] } }], to: [{ operation: { paths: [/ip-far] } }] }
- { from: [{ source: { remoteIpBlocks: [203.0.113.0/24] } }], to: [{ operation: { paths: [/remote-ip] } }] }
- { to: [{ operation: { hosts: [alpha], paths: [/host] } }] }
- { to: [{ operation: { hosts: ["*.svc.cluster.local"], paths: [/host-suffix] } }] }
- { to: [{ operation: { notHosts: [alpha], paths: [/not-host] } }] }
- { to: [{ operation: { methods: [GET], paths: [/method] } }] }
- { to: [{ operation: { notMethods: [DELETE], paths: [/not-method] } }] }
- { to: [{ operation: { paths: [/exact, "/prefix/*", "*/suffix"] } }] }
- { to: [{ operation: { paths: ["/np/*"], notPaths: [/np/secret] } }] }
- { to: [{ operation: { ports: ["9080"], paths: [/port] } }] }
- { to: [{ operation: { ports: ["9999"], paths: [/port-other] } }] }
- { to: [{ operation: { notPorts: ["9080"], paths: [/not-port] } }] }
- { to: [{ operation: { paths: [/header] } }], when: [{ key: "request.headers[x-team]", values: [blue] }] }
- { to: [{ operation: { paths: [/header-not] } }], when: [{ key: "request.headers[x-team]", notValues: [red] }] }
- { to: [{ operation: { paths: [/when-principal] } }], when: [{ key: source.principal, values: [cluster.local/ns/default/sa/caller] }] }
- { to: [{ operation: { paths: [/when-namespace] } }], when: [{ key: source.namespace, values: [other] }] }
- { to: [{ operation: { paths: [/when-ip] } }], when: [{ key: source.ip, values: [127.0.0.1] }] }
- { to: [{ operation: { paths: [/when-ip-far] } }], when: [{ key: source.ip, values: [192.0.2.0/24] }] }
- { to: [{ operation: { paths: [/when-port] } }], when: [{ key: destination.port, values: ["9080"] }] }
- { to: [{ operation: { paths: [/when-port-other] } }], when: [{ key: destination.port, values: ["1"] }] }
- { to: [{ operation: { paths: [/jwt] } }], when: [{ key: "request.auth.claims[iss]", values: [https://issuer.example] }] }
- { to: [{ operation: { paths: [/jwt-not] } }], when: [{ key: "request.auth.claims[iss]", notValues: [https://issuer.example] }] }
- { to: [{ operation: { methods: [PUT], paths: ["*"] } }] }
- { from: [{ source: { requestPrincipals: ["*"] } }], to: [{ operation: { paths: [/request-principal] } }] }
- { to: [{ operation: { notPorts: ["9999"], paths: [/not-port-other] } }] }
`) + policy('default', 'beta-deny', `
selector: { matchLabels: { app: beta } }
action: DENY
rules:
- { from: [{ source: { principals: [cluster.local/ns/other/sa/visitor] } }], to: [{ operation: { paths: [/d/principal] } }] }
- { from: [{ source: { namespaces: [default] } }], to: [{ operation: { paths: [/d/namespace] } }] }
- { to: [{ operation: { paths: ["/d/admin/*"] } }] }
- { when: [{ key: "request.headers[x-block]", values: ["*"] }] }
- { to: [{ operation: { methods: [DELETE] } }] }
- { to: [{ operation: { paths: [/d/jwt] } }], when: [{ key: request.auth.principal, values: ["*"] }] }
`);

/** Round 2: evaluation order and scope. */
const ORDER = BASE + policy('istio-system', 'mesh-deny', `
action: DENY
rules: [{ to: [{ operation: { paths: [/mesh-deny] } }] }]
`) + policy('istio-system', 'gamma-from-root', `
selector: { matchLabels: { app: gamma } }
rules: [{ to: [{ operation: { paths: [/from-root, /ns-deny, /mesh-deny] } }] }]
`) + policy('default', 'gateway-remote-ip', `
selector: { matchLabels: { istio: ingressgateway } }
action: DENY
rules:
- { from: [{ source: { remoteIpBlocks: [127.0.0.1/32] } }], to: [{ operation: { paths: [/gw-peer] } }] }
- { from: [{ source: { remoteIpBlocks: [203.0.113.0/24] } }], to: [{ operation: { paths: [/gw-forwarded] } }] }
`) + policy('default', 'ns-deny', `
action: DENY
rules: [{ to: [{ operation: { paths: [/ns-deny] } }] }]
`) + policy('default', 'beta-order-deny', `
selector: { matchLabels: { app: beta } }
action: DENY
rules: [{ to: [{ operation: { paths: [/admin] } }] }]
`) + policy('default', 'beta-order-allow', `
selector: { matchLabels: { app: beta } }
action: ALLOW
rules: [{ to: [{ operation: { paths: [/admin, /public] } }] }]
`);

/** Round 3: policies without rules, AUDIT, CUSTOM and a targetRef. */
const EDGES = BASE + policy('other', 'allow-nothing', `
selector: { matchLabels: { app: gamma } }
action: ALLOW
`) + policy('default', 'deny-nothing', `
selector: { matchLabels: { app: alpha } }
action: DENY
`) + policy('default', 'alpha-audit', `
selector: { matchLabels: { app: alpha } }
action: AUDIT
rules: [{ to: [{ operation: { paths: [/audited] } }] }]
`) + policy('default', 'alpha-custom', `
selector: { matchLabels: { app: alpha } }
action: CUSTOM
provider: { name: ext-authz }
rules: [{ to: [{ operation: { paths: [/custom] } }] }]
`) + policy('default', 'beta-targeted', `
targetRefs: [{ kind: Service, group: "", name: beta }]
action: DENY
rules: [{}]
`);

describe('AuthorizationPolicy on the local mesh (live HAProxy, mTLS on loopback)', { timeout: 240_000 }, () => {
  let mesh: TestMesh;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  before(async () => {
    mesh = await startTestMesh(FORMS, { gateways: ['ingress'] });
  });
  after(async () => {
    agent.destroy();
    await mesh?.stop();
  });

  const call = (from: 'caller-0' | 'visitor-0', host: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> =>
    request({ port: mesh.pod(from).ports.outbound, path, method: options.method, headers: { host, ...options.headers }, agent });
  /** Straight to alpha's inbound listener in plaintext (alpha is PERMISSIVE): a peer without an identity. */
  const plaintext = (path: string): Promise<HttpAnswer> => request({ port: mesh.pod('alpha-0').ports.inbound, path, headers: { host: 'alpha' } });

  async function statuses(cases: [string, () => Promise<HttpAnswer>][]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, send] of cases) out[name] = (await send()).status;
    return out;
  }

  /**
   * After an apply, a caller's pooled connection to a pod's previous proxy process may serve one more request
   * under the previous policy (hitless reload, as Envoy drains a listener): wait until each probe has
   * answered as the new policy says three times in a row.
   */
  async function settle(probes: [() => Promise<HttpAnswer>, number][]): Promise<void> {
    let streak = 0;
    await waitFor('the new policies on every pod', async () => {
      const ok = (await Promise.all(probes.map(async ([send, status]) => (await send()).status === status))).every(Boolean);
      streak = ok ? streak + 1 : 0;
      return streak >= 3 ? true : undefined;
    }, { timeoutMs: 15_000 });
  }

  const authzOf = async (pod: string, path: string) => {
    const entry = await waitFor(`the inbound log line of ${path} on ${pod}`, async () => {
      const { entries } = await readAccessLog(mesh.pod(pod).paths.accessLog);
      return entries.reverse().find((e) => e.direction === 'inbound' && e.path === path);
    }, { timeoutMs: 5000 });
    return entry;
  };

  describe('round 1: every form of a rule', () => {
    it('a denied request gets 403 with Envoy\'s body, and the log names what decided', async () => {
      const denied = await call('caller-0', 'alpha', '/nowhere');
      assert.equal(denied.status, 403);
      assert.equal(denied.body, 'RBAC: access denied');
      assert.match(String(denied.headers['content-type']), /^text\/plain/);
      assert.equal((await authzOf('alpha-0', '/nowhere')).authz, 'rbac_access_denied_matched_policy[none]');
      assert.equal(mesh.app('alpha-0').received.some((r) => r.url === '/nowhere'), false, 'a denied request never reaches the app');
      assert.equal((await call('caller-0', 'alpha', '/principal')).status, 200);
      assert.equal((await authzOf('alpha-0', '/principal')).authz, 'rbac_allowed_matched_policy[ns[default]-policy[alpha-allow]-rule[0]]');
    });

    it('source principals (exact, suffix, prefix, *), notPrincipals; a plaintext peer has no principal', async () => {
      assert.deepEqual(await statuses([
        ['principal caller', () => call('caller-0', 'alpha', '/principal')],
        ['principal visitor', () => call('visitor-0', 'alpha.default', '/principal')],
        ['principal plaintext', () => plaintext('/principal')],
        ['notPrincipals visitor', () => call('visitor-0', 'alpha.default', '/not-principal')],
        ['notPrincipals caller', () => call('caller-0', 'alpha', '/not-principal')],
        ['notPrincipals plaintext', () => plaintext('/not-principal')],
        ['suffix visitor', () => call('visitor-0', 'alpha.default', '/principal-suffix')],
        ['suffix caller', () => call('caller-0', 'alpha', '/principal-suffix')],
        ['prefix visitor', () => call('visitor-0', 'alpha.default', '/principal-prefix')],
        ['prefix caller', () => call('caller-0', 'alpha', '/principal-prefix')],
        ['* caller', () => call('caller-0', 'alpha', '/authenticated')],
        ['* plaintext', () => plaintext('/authenticated')],
      ]), {
        'principal caller': 200, 'principal visitor': 403, 'principal plaintext': 403,
        'notPrincipals visitor': 200, 'notPrincipals caller': 403, 'notPrincipals plaintext': 200,
        'suffix visitor': 200, 'suffix caller': 403, 'prefix visitor': 200, 'prefix caller': 403,
        '* caller': 200, '* plaintext': 403,
      });
    });

    it('source namespaces, notNamespaces, ipBlocks and remoteIpBlocks', async () => {
      assert.deepEqual(await statuses([
        ['namespaces other', () => call('visitor-0', 'alpha.default', '/namespace')],
        ['namespaces default', () => call('caller-0', 'alpha', '/namespace')],
        ['namespaces plaintext', () => plaintext('/namespace')],
        ['notNamespaces default', () => call('caller-0', 'alpha', '/not-namespace')],
        ['notNamespaces other', () => call('visitor-0', 'alpha.default', '/not-namespace')],
        ['ipBlocks loopback', () => call('caller-0', 'alpha', '/ip')],
        ['ipBlocks 10/8', () => call('caller-0', 'alpha', '/ip-far')],
        ['remoteIpBlocks forwarded', () => call('caller-0', 'alpha', '/remote-ip', { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } })],
        ['remoteIpBlocks direct', () => call('caller-0', 'alpha', '/remote-ip')],
      ]), {
        'namespaces other': 200, 'namespaces default': 403, 'namespaces plaintext': 403,
        'notNamespaces default': 200, 'notNamespaces other': 403,
        'ipBlocks loopback': 200, 'ipBlocks 10/8': 403,
        'remoteIpBlocks forwarded': 200, 'remoteIpBlocks direct': 403,
      });
    });

    it('operation hosts, notHosts, methods, notMethods, paths (exact, prefix, suffix, *), notPaths, ports, notPorts', async () => {
      assert.deepEqual(await statuses([
        ['hosts alpha', () => call('caller-0', 'alpha', '/host')],
        ['hosts alpha.default', () => call('caller-0', 'alpha.default', '/host')],
        ['hosts suffix', () => call('caller-0', 'alpha.default.svc.cluster.local', '/host-suffix')],
        ['hosts suffix short', () => call('caller-0', 'alpha', '/host-suffix')],
        ['notHosts alpha.default', () => call('caller-0', 'alpha.default', '/not-host')],
        ['notHosts alpha', () => call('caller-0', 'alpha', '/not-host')],
        ['methods GET', () => call('caller-0', 'alpha', '/method')],
        ['methods POST', () => call('caller-0', 'alpha', '/method', { method: 'POST' })],
        ['notMethods GET', () => call('caller-0', 'alpha', '/not-method')],
        ['notMethods DELETE', () => call('caller-0', 'alpha', '/not-method', { method: 'DELETE' })],
        ['paths exact', () => call('caller-0', 'alpha', '/exact?q=1')],
        ['paths exact longer', () => call('caller-0', 'alpha', '/exact/more')],
        ['paths prefix', () => call('caller-0', 'alpha', '/prefix/a/b')],
        ['paths prefix bare', () => call('caller-0', 'alpha', '/prefix')],
        ['paths suffix', () => call('caller-0', 'alpha', '/x/suffix')],
        ['paths dot segments', () => call('caller-0', 'alpha', '/prefix/../secret')],
        ['paths * PUT', () => call('caller-0', 'alpha', '/anything', { method: 'PUT' })],
        ['paths * GET', () => call('caller-0', 'alpha', '/anything')],
        ['notPaths open', () => call('caller-0', 'alpha', '/np/open')],
        ['notPaths secret', () => call('caller-0', 'alpha', '/np/secret')],
        ['ports 9080', () => call('caller-0', 'alpha', '/port')],
        ['ports 9999', () => call('caller-0', 'alpha', '/port-other')],
        ['notPorts 9080', () => call('caller-0', 'alpha', '/not-port')],
        ['notPorts 9999', () => call('caller-0', 'alpha', '/not-port-other')],
      ]), {
        'hosts alpha': 200, 'hosts alpha.default': 403, 'hosts suffix': 200, 'hosts suffix short': 403,
        'notHosts alpha.default': 200, 'notHosts alpha': 403,
        'methods GET': 200, 'methods POST': 403, 'notMethods GET': 200, 'notMethods DELETE': 403,
        'paths exact': 200, 'paths exact longer': 403, 'paths prefix': 200, 'paths prefix bare': 403, 'paths suffix': 200,
        'paths dot segments': 403, 'paths * PUT': 200, 'paths * GET': 403,
        'notPaths open': 200, 'notPaths secret': 403,
        'ports 9080': 200, 'ports 9999': 403, 'notPorts 9080': 403, 'notPorts 9999': 200,
      });
    });

    it('when: request.headers, source.principal, source.namespace, source.ip, destination.port; request.auth never holds without a JWT', async () => {
      assert.deepEqual(await statuses([
        ['header blue', () => call('caller-0', 'alpha', '/header', { headers: { 'x-team': 'blue' } })],
        ['header red', () => call('caller-0', 'alpha', '/header', { headers: { 'x-team': 'red' } })],
        ['header not-red absent', () => call('caller-0', 'alpha', '/header-not')],
        ['header not-red red', () => call('caller-0', 'alpha', '/header-not', { headers: { 'x-team': 'red' } })],
        ['source.principal caller', () => call('caller-0', 'alpha', '/when-principal')],
        ['source.principal visitor', () => call('visitor-0', 'alpha.default', '/when-principal')],
        ['source.namespace other', () => call('visitor-0', 'alpha.default', '/when-namespace')],
        ['source.namespace default', () => call('caller-0', 'alpha', '/when-namespace')],
        ['source.ip loopback', () => call('caller-0', 'alpha', '/when-ip')],
        ['source.ip far', () => call('caller-0', 'alpha', '/when-ip-far')],
        ['destination.port 9080', () => call('caller-0', 'alpha', '/when-port')],
        ['destination.port 1', () => call('caller-0', 'alpha', '/when-port-other')],
        ['request.auth values', () => call('caller-0', 'alpha', '/jwt')],
        ['request.auth notValues', () => call('caller-0', 'alpha', '/jwt-not')],
        ['requestPrincipals', () => call('caller-0', 'alpha', '/request-principal')],
      ]), {
        'header blue': 200, 'header red': 403, 'header not-red absent': 200, 'header not-red red': 403,
        'source.principal caller': 200, 'source.principal visitor': 403,
        'source.namespace other': 200, 'source.namespace default': 403,
        'source.ip loopback': 200, 'source.ip far': 403,
        'destination.port 9080': 200, 'destination.port 1': 403,
        'request.auth values': 403, 'request.auth notValues': 200, requestPrincipals: 403,
      });
    });

    it('DENY rules: a matching request is refused and the log names the rule; others pass', async () => {
      assert.deepEqual(await statuses([
        ['principal visitor', () => call('visitor-0', 'beta.default', '/d/principal')],
        ['principal caller', () => call('caller-0', 'beta', '/d/principal')],
        ['namespace default', () => call('caller-0', 'beta', '/d/namespace')],
        ['namespace other', () => call('visitor-0', 'beta.default', '/d/namespace')],
        ['path admin', () => call('caller-0', 'beta', '/d/admin/users')],
        ['path public', () => call('caller-0', 'beta', '/d/public')],
        ['header present', () => call('caller-0', 'beta', '/d/public', { headers: { 'x-block': 'yes' } })],
        ['method DELETE', () => call('caller-0', 'beta', '/d/public', { method: 'DELETE' })],
        ['request.auth', () => call('caller-0', 'beta', '/d/jwt')],
      ]), {
        'principal visitor': 403, 'principal caller': 200, 'namespace default': 403, 'namespace other': 200,
        'path admin': 403, 'path public': 200, 'header present': 403, 'method DELETE': 403, 'request.auth': 200,
      });
      assert.equal((await authzOf('beta-0', '/d/admin/users')).authz, 'rbac_access_denied_matched_policy[ns[default]-policy[beta-deny]-rule[2]]');
      assert.equal((await authzOf('beta-0', '/d/jwt')).authz, '');
    });
  });

  describe('round 2: evaluation order and scope', () => {
    before(async () => {
      await mesh.apply(ORDER);
      await settle([[() => call('caller-0', 'beta', '/admin'), 403], [() => call('caller-0', 'gamma.other', '/elsewhere'), 403], [() => call('caller-0', 'alpha', '/elsewhere'), 200]]);
    });

    it('DENY beats ALLOW; with an ALLOW policy present, a request no rule matches is denied', async () => {
      assert.deepEqual(await statuses([
        ['admin', () => call('caller-0', 'beta', '/admin')],
        ['public', () => call('caller-0', 'beta', '/public')],
        ['other', () => call('caller-0', 'beta', '/other')],
      ]), { admin: 403, public: 200, other: 403 });
      assert.equal((await authzOf('beta-0', '/admin')).authz, 'rbac_access_denied_matched_policy[ns[default]-policy[beta-order-deny]-rule[0]]');
    });

    it('a policy of the root namespace applies to every namespace; a namespace policy to its own only', async () => {
      assert.deepEqual(await statuses([
        ['alpha mesh-deny', () => call('caller-0', 'alpha', '/mesh-deny')],
        ['gamma mesh-deny', () => call('caller-0', 'gamma.other', '/mesh-deny')],
        ['alpha ns-deny', () => call('caller-0', 'alpha', '/ns-deny')],
        ['gamma ns-deny', () => call('caller-0', 'gamma.other', '/ns-deny')],
        ['gamma from-root', () => call('caller-0', 'gamma.other', '/from-root')],
        ['gamma elsewhere', () => call('caller-0', 'gamma.other', '/elsewhere')],
        ['alpha elsewhere', () => call('caller-0', 'alpha', '/elsewhere')],
      ]), {
        'alpha mesh-deny': 403, 'gamma mesh-deny': 403, 'alpha ns-deny': 403, 'gamma ns-deny': 200,
        'gamma from-root': 200, 'gamma elsewhere': 403, 'alpha elsewhere': 200,
      });
      assert.equal((await authzOf('gamma-0', '/mesh-deny')).authz, 'rbac_access_denied_matched_policy[ns[istio-system]-policy[mesh-deny]-rule[0]]');
    });

    it('the ingress gateway enforces the policies that bind it: the root namespace\'s and those selecting its labels', async () => {
      const viaGateway = (path: string, headers: Record<string, string> = {}) => request({ port: mesh.gateway('ingress').listeners[8080]!, path, headers: { host: 'alpha.example', ...headers }, agent });
      assert.deepEqual(await statuses([
        ['mesh-deny', () => viaGateway('/mesh-deny')],
        ['ns-deny', () => viaGateway('/ns-deny')],
        ['elsewhere', () => viaGateway('/elsewhere')],
        // A gateway trusts no X-Forwarded-For hop (Envoy's use_remote_address): its remote address is the peer's.
        ['remote peer', () => viaGateway('/gw-peer', { 'x-forwarded-for': '203.0.113.9' })],
        ['remote forwarded', () => viaGateway('/gw-forwarded', { 'x-forwarded-for': '203.0.113.9' })],
      ]), { 'mesh-deny': 403, 'ns-deny': 403, elsewhere: 200, 'remote peer': 403, 'remote forwarded': 200 });
      const entry = await waitFor('the gateway\'s log line of /mesh-deny', async () => {
        const { entries } = await readAccessLog(mesh.gateway('ingress').paths.accessLog);
        return entries.find((e) => e.path === '/mesh-deny');
      }, { timeoutMs: 5000 });
      assert.equal(entry.authz, 'rbac_access_denied_matched_policy[ns[istio-system]-policy[mesh-deny]-rule[0]]');
    });
  });

  describe('round 3: policies without rules, AUDIT, CUSTOM, targetRefs', () => {
    before(async () => {
      await mesh.apply(EDGES);
      await settle([[() => call('caller-0', 'beta', '/admin'), 200], [() => call('caller-0', 'gamma.other', '/from-root'), 403], [() => call('caller-0', 'alpha', '/mesh-deny'), 200]]);
    });

    it('an ALLOW policy without rules denies everything; a DENY policy without rules denies nothing', async () => {
      assert.deepEqual(await statuses([
        ['gamma', () => call('caller-0', 'gamma.other', '/')],
        ['alpha', () => call('caller-0', 'alpha', '/')],
      ]), { gamma: 403, alpha: 200 });
    });

    it('AUDIT lets the request through and marks its log line with the rule', async () => {
      assert.equal((await call('caller-0', 'alpha', '/audited')).status, 200);
      assert.equal((await call('caller-0', 'alpha', '/unaudited')).status, 200);
      assert.equal((await authzOf('alpha-0', '/audited')).authzAudit, 'ns[default]-policy[alpha-audit]-rule[0]');
      assert.equal((await authzOf('alpha-0', '/unaudited')).authzAudit, '');
    });

    it('CUSTOM and targetRefs are not enforced on sidecars, and the mesh says so', async () => {
      assert.equal((await call('caller-0', 'alpha', '/custom')).status, 200);
      assert.equal((await call('caller-0', 'beta', '/any')).status, 200);
      const notes = mesh.compiled.notes.join('\n');
      assert.match(notes, /action of AuthorizationPolicy default\/alpha-custom is not enforced by the local mesh/);
      assert.match(notes, /targetRefs of AuthorizationPolicy default\/beta-targeted is not enforced by the local mesh/);
    });
  });
});
