import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { EXIT } from '../lib/errors.js';
import { homeFlag, openHome } from '../lib/mesh/home-flag.js';
import { namespaceFlag } from '../lib/cli/namespace-flags.js';
import type { MeshStatus } from '../lib/mesh/agent/protocol.js';

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
    const status = statusInNamespace(await call(layout, 'status', {}), flags.namespace);
    const healthy = status.problems.length === 0 && status.pods.every((p) => p.ready && p.inSync);
    const { render } = await import('../lib/output/render.js');
    const { table } = await import('../lib/output/table.js');
    const text = async () => {
      const { age, podPhase } = await import('../lib/mesh/render.js');
      const p = out.paint(out.colorEnabled());
      const pods = status.pods.filter((x) => x.type === 'pod');
      const proxies = status.pods;
      const lines = [
        `Mesh       ${layout.root} (HAProxy ${config.proxy.version}, agent pid ${status.agent.pid}, up ${age(status.agent.startedAt)})`,
        `Revision   ${status.revision}${status.updatedAt ? ` (applied ${age(status.updatedAt)} ago)` : ' (nothing applied yet)'}`,
        `Pods       ${pods.filter((x) => x.ready).length}/${pods.length} ready`,
        `Proxies    ${proxies.filter((x) => x.inSync).length}/${proxies.length} serve revision ${status.revision}`,
      ];
      let text = `${lines.join('\n')}\n`;
      if (proxies.length) {
        text += `\n${table(['NAME', 'TYPE', 'READY', 'STATUS', 'RESTARTS', 'REVISION'], proxies.map((x) => [
          x.name,
          x.type,
          `${x.containers.filter((c) => c.ready).length}/${x.containers.length}`,
          podPhase(x),
          x.restarts,
          x.inSync ? String(x.proxyRevision) : p.yellow(`${x.proxyRevision ?? '-'} (want ${status.revision})`),
        ]), p)}\n`;
      }
      for (const n of status.problems) text += `${p.red('Problem:')} ${n}\n`;
      for (const n of status.notes) text += `Note: ${n}\n`;
      return text;
    };
    await render(format, { document: status, text });
    this.finish(healthy ? EXIT.ok : EXIT.negative);
    return status;
  }
}
