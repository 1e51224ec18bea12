import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../lib/cli/base.js';
import { usageError } from '../lib/errors.js';
import { homeFlag } from '../lib/mesh/home-flag.js';
import type { SlowestResult, TraceResult } from '../lib/mesh/trace.js';

export default class Trace extends MeshctlCommand {
  static override summary = "Print a request's path through the mesh as a tree of spans with durations, or the slowest traces through a host.";

  static override description = `Every sidecar and gateway proxy starts a trace for a request that has none, propagates W3C traceparent/tracestate and B3 (x-b3-*, b3) with x-request-id, and logs one span per hop (a client span where the request is sent, a server span where it is received). ID is a request's x-request-id or a trace id. Apps pass the trace on by copying those headers from the request they serve to the requests they send, as with Istio.

-o json prints {traceId, spans} with Zipkin v2's span fields.

Exit codes: 0 found; 1 no such trace; 2 usage error; 3 environment error.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> 3f2a0c1e-7d7b-4a8e-9e3c-1b2d3c4d5e6f',
    '<%= config.bin %> <%= command.id %> --slowest reviews',
    '<%= config.bin %> <%= command.id %> 4bf92f3577b34da6a3ce929d0e0e4736 -o json',
  ];

  static override args = {
    id: Args.string({ description: 'A request id (x-request-id) or a trace id.', required: false }),
  };

  static override flags = {
    home: homeFlag,
    slowest: Flags.string({ summary: 'List the slowest recent traces through this host instead.', helpValue: 'HOST' }),
    limit: Flags.integer({ summary: 'How many traces --slowest lists (default 10).', min: 1, default: 10 }),
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<TraceResult | SlowestResult> {
    const { args, flags } = await this.parse(Trace);
    const format = this.format(flags);
    if (!args.id === !flags.slowest) throw usageError('Pass a request id or a trace id, or --slowest HOST (one of them).');
    const { requireInstalledLayout } = await import('../lib/mesh/addons/commands.js');
    const trace = await import('../lib/mesh/trace.js');
    const { traceTreeText } = await import('../lib/runtime/traces.js');
    const { render } = await import('../lib/output/render.js');
    const layout = await requireInstalledLayout(flags.home, false);
    if (flags.slowest) {
      const result = await trace.slowestTraces(layout, flags.slowest, flags.limit);
      await render(format, { document: result, text: () => trace.slowestText(result) });
      return result;
    }
    const result = await trace.findTrace(layout, args.id!);
    await render(format, { document: result, text: () => traceTreeText(result.traceId, result.spans) });
    return result;
  }
}
