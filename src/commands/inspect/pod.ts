import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { durationFlag } from '../../lib/cli/duration-flag.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';
import { openTarget, targetFlags, targetKind } from '../../lib/target/open.js';
import { namespaceFlag } from '../../lib/cli/namespace-flags.js';
import { SECTIONS, type ProxySnapshot, type Section } from '../../lib/runtime/model.js';

export default class InspectPod extends MeshctlCommand {
  static override summary = "Ask one proxy what it knows: readiness, listeners, routes, clusters, endpoints, stats, certificates.";

  static override description = `Reads a proxy into one model, whatever the runtime: health (ready or not and why, state, uptime, version, config revision), listeners, routes (matches and weighted destinations), clusters (with circuit-breaker thresholds and state), endpoints (health: healthy, ejected, failing health check, draining, down; active connections and requests), stats per upstream and inbound (requests, 2xx–5xx, success rate, p50/p90/p99, retries, ejections), certificates (SPIFFE ID, issuer, serial, validity, time left) and the raw config.

POD is a pod (or gateway proxy) of the local mesh: its HAProxy sidecar is read through its runtime API socket, its admin port and the files in its directory. The revision it serves is compared with the one applied (SYNCED or STALE); an endpoint's health combines HAProxy's view of the server with the readiness of the pod behind it; stats come from the access log (rates over the last minute).

On a cluster (--target kubernetes, --context or --kubeconfig), POD is a pod in -n, else the context's namespace: its Envoy admin API is read through a port-forward to port 15000 (RBAC: get and create on pods/portforward), into the same model --admin-url gives.

--admin-url reads any Envoy admin API (for an Istio pod: kubectl port-forward POD 15000, then --admin-url http://127.0.0.1:15000). --from-file reads a saved /config_dump, as istioctl proxy-config -f does; its tables list the same rows as istioctl's. A value the proxy does not expose is shown as "-" (null in JSON) with the reason, never as 0.

Exit codes: 0 the proxy was read; 2 usage error, unreadable file or unknown pod (the pods that exist are named); 3 the admin API or the sidecar's runtime API socket is unreachable, or answered garbage; on a cluster, the port-forward was refused or the pod has no istio-proxy container.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> productpage-v1-0',
    '<%= config.bin %> <%= command.id %> reviews-v2-0 --section endpoints --section stats',
    '<%= config.bin %> <%= command.id %> bookinfo-gateway --section routes -o json',
    '<%= config.bin %> <%= command.id %> --admin-url http://127.0.0.1:15000',
    '<%= config.bin %> <%= command.id %> --admin-url 127.0.0.1:15000 --section endpoints --section stats',
    '<%= config.bin %> <%= command.id %> --admin-url 127.0.0.1:15000 --section stats --rate-window 10s',
    '<%= config.bin %> <%= command.id %> --from-file config_dump.json --section clusters',
    '<%= config.bin %> <%= command.id %> --from-file config_dump.json -o json',
  ];

  static override args = {
    pod: Args.string({ description: 'A pod of the mesh (on a cluster: in -n, else the context\'s namespace).', required: false }),
  };

  static override flags = {
    section: Flags.option({
      char: 's',
      summary: 'Section to show (repeatable); default: all but config.',
      options: SECTIONS,
      multiple: true,
    })(),
    'admin-url': Flags.string({ summary: "An Envoy admin API to read, e.g. http://127.0.0.1:15000.", exclusive: ['from-file'] }),
    'from-file': Flags.string({ char: 'f', summary: 'A saved Envoy /config_dump (JSON) to read.', exclusive: ['admin-url'] }),
    timeout: durationFlag({ summary: 'How long to wait for each admin API answer.', default: '5s' }),
    'rate-window': durationFlag({ summary: 'Read the stats twice, this far apart, to show requests per second (RPS); 0s reads them once.', default: '0s', allowZero: true, max: '5m' }),
    namespace: namespaceFlag,
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ProxySnapshot> {
    const { args, flags } = await this.parse(InspectPod);
    const format = this.format(flags);
    const { inspectProxy, inspectTarget, DEFAULT_SECTIONS } = await import('../../lib/runtime/inspect.js');
    const sections = (flags.section as Section[] | undefined)?.length ? (flags.section as Section[]) : DEFAULT_SECTIONS;
    const local = args.pod && flags['admin-url'] === undefined && flags['from-file'] === undefined;
    const mesh = local ? await openTarget(flags) : undefined;
    // A cluster is asked for the pod itself (in -n or the context's namespace), not for a list of every proxy.
    const cluster = mesh !== undefined && targetKind(flags) === 'kubernetes';
    if (mesh && !cluster && flags.namespace !== undefined) {
      const { checkPodNamespace } = await import('../../lib/mesh/proxies.js');
      checkPodNamespace(await mesh.proxies(), args.pod!, flags.namespace);
    }
    const now = new Date();
    const snapshot = await (cluster
      ? mesh.proxyAdmin(args.pod!, { timeoutMs: flags.timeout, rateWindowMs: flags['rate-window'], now: () => now }).then((adapter) => inspectProxy(adapter, sections, now))
      : inspectTarget({ pod: args.pod, adminUrl: flags['admin-url'], fromFile: flags['from-file'], timeoutMs: flags.timeout, rateWindowMs: flags['rate-window'] }, sections, now, mesh)
    ).finally(() => mesh?.close?.());
    const out = await import('../../lib/output/format.js');
    const { render } = await import('../../lib/output/render.js');
    const { inspectText } = await import('../../lib/runtime/render.js');
    await render(format, { document: snapshot, text: () => inspectText(snapshot, out.colorEnabled()) });
    return snapshot;
  }
}
