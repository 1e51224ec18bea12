import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { durationFlag } from '../../lib/cli/duration-flag.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';
import { usageError } from '../../lib/errors.js';
import { progressWriter } from '../../lib/output/format.js';
import type { AddonEnableResult } from '../../lib/mesh/addons/prometheus.js';
import { byteSizeText, DEFAULT_SPAN_RETENTION, MAX_SPAN_STORE_AGE, MIN_SPAN_STORE_AGE, MIN_SPAN_STORE_BYTES, parseByteSize } from '../../lib/mesh/addons/span-store.js';

export default class AddonsEnable extends MeshctlCommand {
  static override summary = 'Run an addon beside the local mesh: prometheus, scraping every proxy\'s Istio metrics; tracing, exporting every proxy\'s spans.';

  static override description = `prometheus: finds prometheus on PATH; when it is missing, installs it with the system's package manager (apt-get, dnf, apk or brew) after asking (--yes skips the question; without a terminal meshctl refuses unless --yes is given), printing every command first. The mesh agent then runs it on 127.0.0.1 (a port of its own) with its data in the mesh home, and keeps its scrape targets, one per proxy, current as pods come and go.

tracing: the agent keeps every span the proxies log in the mesh home (the span store, bounded by --keep-spans, default 64MiB, and --keep-spans-for, default 24h: segment files, the oldest dropped first), and sends each to --url (or --tracing-url), as Zipkin v2 JSON or, for a URL ending in /v1/traces, OTLP/HTTP JSON, in batches from a bounded queue (10,000 spans) that drops (and counts, in meshctl_trace_spans_dropped_total) what a slow or down backend cannot take; the proxies never wait on it. The URL is kept in the mesh home: the agent exports again after a restart. meshctl status shows where spans go and the export's counters.

Enabling again is a no-op that says so; --scrape-interval changes the interval of an enabled Prometheus.

Exit codes: 0 enabled or already enabled; 2 usage error; 3 environment error (no mesh, Prometheus missing and not installable, or it did not start).`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> prometheus',
    '<%= config.bin %> <%= command.id %> prometheus --dry-run',
    '<%= config.bin %> <%= command.id %> prometheus --yes --scrape-interval 5s',
    '<%= config.bin %> <%= command.id %> tracing --url http://127.0.0.1:9411/api/v2/spans',
    '<%= config.bin %> <%= command.id %> tracing --keep-spans 16MiB --keep-spans-for 2h',
  ];

  static override args = {
    addon: Args.string({ description: 'The addon to enable.', required: true, options: ['prometheus', 'tracing'] }),
  };

  static override flags = {
    home: homeFlag,
    yes: Flags.boolean({ char: 'y', summary: 'Install the addon with the package manager without asking.', default: false }),
    'dry-run': Flags.boolean({ summary: 'Print the plan and change nothing.', default: false }),
    'tracing-url': Flags.string({ summary: 'tracing: where the spans go, a Zipkin v2 collector (…/api/v2/spans) or an OTLP/HTTP endpoint (…/v1/traces).', helpValue: 'URL', aliases: ['url'] }),
    'keep-spans': Flags.custom<number>({
      summary: `tracing: the span store's size in the mesh home (default ${byteSizeText(DEFAULT_SPAN_RETENTION.maxBytes)}); the oldest spans are dropped first.`,
      helpValue: 'SIZE',
      parse: async (input) => {
        const bytes = parseByteSize(input);
        if (bytes === null || bytes < MIN_SPAN_STORE_BYTES) throw usageError(`--keep-spans ${input} is not a size of at least ${byteSizeText(MIN_SPAN_STORE_BYTES)}; pass e.g. 64MiB.`);
        return bytes;
      },
    })(),
    'keep-spans-for': durationFlag({ summary: 'tracing: how long spans are kept in the mesh home (default 24h).', min: MIN_SPAN_STORE_AGE, max: MAX_SPAN_STORE_AGE }),
    'scrape-interval': durationFlag({ summary: 'How often Prometheus scrapes the proxies (default 15s, as Istio\'s Prometheus).', min: '1s', max: '5m' }),
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<AddonEnableResult> {
    const { args, flags } = await this.parse(AddonsEnable);
    const format = this.format(flags);
    const { requireInstalledLayout } = await import('../../lib/mesh/addons/commands.js');
    const { enablePrometheus } = await import('../../lib/mesh/addons/prometheus.js');
    const { addonText } = await import('../../lib/mesh/addons/render.js');
    const { render } = await import('../../lib/output/render.js');
    const prompt = await import('../../lib/output/prompt.js');
    const layout = await requireInstalledLayout(flags.home, !flags['dry-run']);
    if (args.addon === 'tracing') {
      const { enableTracing } = await import('../../lib/mesh/addons/trace-export.js');
      const traced = await enableTracing(layout, { url: flags['tracing-url'], keepBytes: flags['keep-spans'], keepForMs: flags['keep-spans-for'], dryRun: flags['dry-run'] });
      await render(format, { document: traced, text: () => addonText(traced) });
      return traced;
    }
    const result = await enablePrometheus({
      layout,
      yes: flags.yes,
      dryRun: flags['dry-run'],
      interactive: prompt.canPrompt(),
      confirm: (message) => prompt.confirm(message, { withoutTerminal: false }),
      progress: progressWriter(format),
      scrapeIntervalSeconds: flags['scrape-interval'] === undefined ? undefined : Math.max(1, Math.round(flags['scrape-interval'] / 1000)),
    });
    await render(format, { document: result, text: () => addonText(result) });
    return result;
  }
}
