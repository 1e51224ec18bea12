import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT } from '../lib/errors.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';
import { namespaceFlag } from '../lib/cli/namespace-flags.js';
import type { MeshStatus } from '../lib/mesh/agent/protocol.js';

/** HTTPRoute status as a Gateway API controller would write it, and its lines for the text output. */
async function httpRouteStatus(applied: import('../lib/mesh/state.js').StoredResource[], namespace: string | undefined) {
  const { modelOf } = await import('../lib/mesh/pods.js');
  const { routeStatusLines } = await import('../lib/policy/gateway-api/status.js');
  const statuses = modelOf(applied).routeStatuses.filter((s) => namespace === undefined || s.namespace === namespace);
  return { statuses, lines: routeStatusLines(statuses) };
}

export default class Status extends MeshctlCommand {
  static override summary = 'Summarize the local mesh: revision, pods ready, sidecars in sync.';

  static override description = `Asks the mesh agent (starting it again if it is not running) for every pod and gateway proxy: whether the app and the sidecar run and are ready, and which revision each proxy serves.

Exit codes: 0 every pod ready and every proxy on the current revision; 1 some are not; 3 the mesh is not installed or the agent cannot be reached.`;

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> -o json'];

  static override flags = {
    namespace: namespaceFlag,
    home: homeFlag,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<MeshStatus> {
    const { flags } = await this.parse(Status);
    const format = this.format(flags);
    const { layout, config } = await openHome(flags.home);
    const { call } = await import('../lib/mesh/agent/client.js');
    const out = await import('../lib/output/format.js');
    const { statusInNamespace } = await import('../lib/mesh/get.js');
    const { readApplied } = await import('../lib/mesh/state.js');
    const [agentStatus, applied] = await Promise.all([call(layout, 'status', {}), readApplied(layout)]);
    const status = statusInNamespace(agentStatus, flags.namespace);
    const routes = await httpRouteStatus(applied.resources, flags.namespace);
    const healthy = status.problems.length === 0 && status.pods.every((p) => p.ready && p.inSync);
    const { render } = await import('../lib/output/render.js');
    const { meshStatusText } = await import('../lib/mesh/render.js');
    const tracingAddon = await import('../lib/mesh/addons/tracing-status.js');
    const tracing = await tracingAddon.tracingStatus(layout, await tracingAddon.meshMetricsText(layout));
    const document = { ...status, tracing, ...(routes.statuses.length ? { httpRoutes: routes.statuses } : {}) };
    await render(format, { document, text: () => meshStatusText(status, { root: layout.root, proxyVersion: config.proxy.version }, out.paint(out.colorEnabled())) + `Tracing    ${tracingAddon.tracingStatusLine(tracing)}\n` + routes.lines.map((l) => `Routes     ${l}\n`).join('') });
    this.finish(healthy ? EXIT.ok : EXIT.negative);
    return status;
  }
}
