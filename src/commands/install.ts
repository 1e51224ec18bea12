import { Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import { targetFlags, targetKind } from '../lib/target/open.js';
import { durationFlag } from '../lib/cli/duration-flag.js';
import { sizeFlag } from '../lib/cli/size-flag.js';
import { MAX_LOG_ROTATE_BYTES, MAX_WORKLOAD_CERT_LIFETIME, MIN_LOG_ROTATE_BYTES, MIN_WORKLOAD_CERT_LIFETIME } from '../lib/mesh/state.js';
import { progressWriter } from '../lib/output/format.js';
import type { InstallResult } from '../lib/mesh/install.js';
import type { AddonEnableResult } from '../lib/mesh/addons/prometheus.js';

export default class Install extends MeshctlCommand {
  static override summary = 'Install the local mesh: the HAProxy runtime, the mesh home with its CA, and the mesh agent.';

  static override description = `Finds HAProxy 2.6 or later (--proxy-bin, then PATH). When it is missing, installs it with the system's package manager (apt-get, dnf, yum, apk or brew) after asking; --yes skips the question, and without a terminal meshctl refuses unless --yes is given. Every command run is printed first.

Then creates the mesh home (--home, else $MESHCTL_HOME, else ~/.meshctl) with the mesh CA (root key mode 0600) and the mesh configuration (with the workload certificate lifetime, --cert-lifetime), writes the mesh-wide PeerAuthentication istio-system/default when --mtls is given (a resource like any other: meshctl get peerauthentications -A shows it, apply changes it), starts the mesh agent in the background and returns once it answers. --tracing-url has the agent export every span to a Zipkin v2 or OTLP/HTTP collector (as meshctl addons enable tracing --url does; a URL that is not http or https is refused before anything is installed).

Installing again is a no-op that says so (it starts the agent if it is not running). A failed install is undone and says what failed and how to retry.

Exit codes: 0 installed or already installed; 2 usage error; 3 environment error (HAProxy missing and not installable, home not writable, agent did not start).`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> --with prometheus',
    '<%= config.bin %> <%= command.id %> --tracing-url http://127.0.0.1:9411/api/v2/spans',
    '<%= config.bin %> <%= command.id %> --cert-lifetime 1h',
    '<%= config.bin %> <%= command.id %> --mtls strict',
    '<%= config.bin %> <%= command.id %> --home /tmp/mesh --yes',
    '<%= config.bin %> <%= command.id %> --proxy-bin /usr/local/sbin/haproxy -o json',
  ];

  static override flags = {
    home: homeFlag,
    ...targetFlags,
    namespace: Flags.string({ char: 'n', summary: 'On a Kubernetes cluster: a namespace to enable sidecar injection on (repeatable).', multiple: true }),
    revision: Flags.string({ summary: "On a Kubernetes cluster: the istiod revision to inject (label istio.io/rev=REV instead of istio-injection=enabled).", helpValue: 'REV' }),
    'print-rbac': Flags.boolean({ summary: 'On a Kubernetes cluster: print the ClusterRole meshctl needs, and change nothing.', default: false }),
    yes: Flags.boolean({ char: 'y', summary: 'Install HAProxy with the package manager without asking.', default: false }),
    'dry-run': Flags.boolean({ summary: 'Print the whole plan and change nothing.', default: false }),
    'cert-lifetime': durationFlag({
      summary: `Lifetime of workload certificates (default 24h, as Istio's); each is renewed at half of it without a reload. From ${MIN_WORKLOAD_CERT_LIFETIME} to ${MAX_WORKLOAD_CERT_LIFETIME}.`,
      min: MIN_WORKLOAD_CERT_LIFETIME,
      max: MAX_WORKLOAD_CERT_LIFETIME,
    }),
    'log-max-size': sizeFlag({
      summary: "Size past which a log is set aside as <log>.1 (default 20MiB): a running sidecar's access log through a hitless reload, a running app's by a copy after which it is emptied in place.",
      min: MIN_LOG_ROTATE_BYTES,
      max: MAX_LOG_ROTATE_BYTES,
    }),
    with: Flags.option({ summary: 'Also run this addon beside the mesh (as meshctl addons enable does).', options: ['prometheus'] as const, multiple: true })(),
    'scrape-interval': durationFlag({ summary: 'With --with prometheus: how often it scrapes the proxies (default 15s).', min: '1s', max: '5m' }),
    'tracing-url': Flags.string({ summary: "Export every proxy's spans to this Zipkin v2 collector (…/api/v2/spans) or OTLP/HTTP endpoint (…/v1/traces), as meshctl addons enable tracing --url does.", helpValue: 'URL' }),
    mtls: Flags.string({
      summary: "Write the mesh-wide PeerAuthentication istio-system/default with this mode (without it none is written and Istio's default, permissive, holds); change it later with apply.",
      options: ['strict', 'permissive'],
    }),
    'proxy-bin': Flags.string({ summary: 'HAProxy executable to use (default: haproxy on PATH).', helpValue: 'PATH' }),
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<(InstallResult & { addons?: AddonEnableResult[] }) | unknown> {
    const { flags } = await this.parse(Install);
    const format = this.format(flags);
    if (flags['print-rbac'] || targetKind({ ...flags, namespace: undefined }) === 'kubernetes') return (await import('../lib/kube/install-command.js')).installOnClusterCommand(flags, format);
    const { install } = await import('../lib/mesh/install.js');
    const { installText } = await import('../lib/mesh/render.js');
    const { resolveHome } = await import('../lib/mesh/home.js');
    const out = await import('../lib/output/format.js');
    const { render } = await import('../lib/output/render.js');
    const prompt = await import('../lib/output/prompt.js');
    const progress = progressWriter(format);
    const tracing = await import('../lib/mesh/addons/trace-export.js');
    // A bad URL is refused before anything is installed.
    if (flags['tracing-url'] !== undefined) tracing.checkTracingUrl(flags['tracing-url']);
    const result = await install({
      home: resolveHome(flags.home),
      yes: flags.yes,
      dryRun: flags['dry-run'],
      proxyBin: flags['proxy-bin'],
      interactive: prompt.canPrompt(),
      confirm: (message) => prompt.confirm(message, { withoutTerminal: false }),
      progress,
      meshctlVersion: this.config.version,
      certificateLifetimeMs: flags['cert-lifetime'],
      logRotateBytes: flags['log-max-size'],
      meshMtlsMode: flags.mtls === 'strict' ? 'STRICT' : flags.mtls === 'permissive' ? 'PERMISSIVE' : undefined,
    });
    const addons: AddonEnableResult[] = [];
    for (const addon of new Set(flags.with ?? [])) {
      if (addon !== 'prometheus') continue;
      const { enablePrometheus } = await import('../lib/mesh/addons/prometheus.js');
      const { homeLayout } = await import('../lib/mesh/home.js');
      addons.push(await enablePrometheus({
        layout: homeLayout(result.home),
        yes: flags.yes,
        dryRun: flags['dry-run'],
        interactive: prompt.canPrompt(),
        confirm: (message) => prompt.confirm(message, { withoutTerminal: false }),
        progress,
        scrapeIntervalSeconds: flags['scrape-interval'] === undefined ? undefined : Math.max(1, Math.round(flags['scrape-interval'] / 1000)),
      }));
    }
    if (flags['tracing-url'] !== undefined) {
      const { homeLayout } = await import('../lib/mesh/home.js');
      addons.push(await tracing.enableTracing(homeLayout(result.home), { url: flags['tracing-url'], dryRun: flags['dry-run'] }));
    }
    const document = addons.length ? { ...result, addons } : result;
    const { addonText } = await import('../lib/mesh/addons/render.js');
    await render(format, { document, text: () => installText(result, out.paint(out.colorEnabled())) + addons.map(addonText).join('') });
    return document;
  }
}
